"""Optional parts of regmail, each an extra of the package: `pip install 'regmail[server]'`.
A part used without its extra stops with a message naming it, not an ImportError."""

from __future__ import annotations

import importlib
from types import ModuleType

WHAT = {
    "server": "the HTTP service (regmail serve, regmail dev)",
    "postgres": "PostgreSQL",
    "rabbitmq": "RabbitMQ",
    "kafka": "Apache Kafka",
    "otel": "tracing (REGMAIL_OTLP_ENDPOINT)",
}


class MissingExtra(ImportError):
    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"{WHAT[extra]} needs regmail's `{extra}` extra (module {module} is not "
            f"installed): pip install 'regmail[{extra}]'"
        )
        self.extra = extra


def load(module: str, extra: str) -> ModuleType:
    """`module`, or MissingExtra naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and module.startswith(error.name.split(".")[0]):
            raise MissingExtra(extra, module) from None
        raise
