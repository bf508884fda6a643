"""What every call to regmail carries, for both clients."""

from __future__ import annotations

from typing import Any

import regmail


def http_options(base_url: str, admin_token: str | None, timeout: float) -> dict[str, Any]:
    headers = {"User-Agent": f"regmail-client/{regmail.__version__}"}
    if admin_token:
        headers["Authorization"] = f"Bearer {admin_token}"
    return {"base_url": base_url, "headers": headers, "timeout": timeout}
