"""What never reaches a trace collector (imported with the OpenTelemetry SDK, when tracing
is on)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor


class QueryValuesRedacted(SpanProcessor):
    """Every value of a traced request's query string replaced, as the span starts: the
    links in mails carry their token there (/activate?token=…), and a trace collector is
    no place for a credential. The names stay, so a trace still says what was asked."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        query = (span.attributes or {}).get("url.query")
        if isinstance(query, str) and query:
            pairs = parse_qsl(query, keep_blank_values=True)
            span.set_attribute("url.query", urlencode([(k, "REDACTED") for k, _ in pairs]))
