"""`python -m examples.app`: the example application on 127.0.0.1 (scripts/example)."""

import uvicorn

from examples.app.settings import ExampleSettings
from examples.app.web import create_app

settings = ExampleSettings()  # type: ignore[call-arg]  # EXAMPLE_WEBHOOK_SECRET is required
uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
