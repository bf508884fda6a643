"""Standard Webhooks (https://www.standardwebhooks.com): how regmail signs the events it
sends, and `verify`, for the application that receives them.

A request carries `webhook-id` (the event's id: the same on every retry, so a receiver can
drop copies), `webhook-timestamp` (seconds since the epoch) and `webhook-signature`:
`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the key of a
`whsec_<base64 key>` secret (several, space-separated, while a secret is rotated).

    from regmail.webhooks import verify, WebhookVerificationError

    event = verify(request.headers, await request.body(), "whsec_…")  # the event, as a dict
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_SECONDS = 300  # a request older or newer than this is refused (replays)


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook from regmail."""


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one request."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")  # padding may be left off
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The event of a genuine request, or WebhookVerificationError saying why not."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        raise WebhookVerificationError("missing or malformed webhook headers") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("timestamp too old or too new")
    expected = sign(secret, webhook_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, given.encode()) for given in signatures):
        raise WebhookVerificationError("no valid signature")
    event: dict[str, Any] = json.loads(body)
    return event
