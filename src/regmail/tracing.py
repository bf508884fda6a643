"""OpenTelemetry tracing: off unless REGMAIL_OTLP_ENDPOINT names a collector.

One trace follows a mail: the sign-up request, the relay's publish, the worker's delivery
and its SMTP send. The W3C `traceparent` travels with the mail: stored on its outbox row,
carried in RabbitMQ and Kafka message headers, read back by the worker.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from regmail.extras import load

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

tracer = trace.get_tracer("regmail")
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


def setup_tracing(endpoint: str | None, role: str) -> None:
    """Export spans over OTLP/HTTP to `endpoint` (http://collector:4318) as service
    `regmail-{role}`; without an endpoint, spans cost nothing and go nowhere."""
    global _provider
    if not endpoint or _provider is not None:
        return
    # Imported only when tracing is on: the SDK, the exporter and protobuf are a large
    # heap for every process to carry (and for the garbage collector to walk) otherwise.
    load("opentelemetry.sdk.trace", "otel")
    load("opentelemetry.exporter.otlp.proto.http.trace_exporter", "otel")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from regmail.trace_redaction import QueryValuesRedacted

    _provider = TracerProvider(resource=Resource.create({"service.name": f"regmail-{role}"}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    _provider.add_span_processor(QueryValuesRedacted())  # before the export: runs first
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(_provider)


def shutdown_tracing() -> None:
    """Send what is still buffered (at the end of a process)."""
    if _provider is not None:
        _provider.shutdown()


def span(name: str, kind: SpanKind, parent: str | None = None) -> AbstractContextManager[Span]:
    """`name` as the current span, a child of the `parent` traceparent (else of the current
    span). Unless a tracer provider is set (regmail's own, or that of an application regmail
    runs inside), the invalid span and none of the work of making one: spans that went
    nowhere cost a worker some 8 % of its CPU a mail."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return nullcontext(trace.INVALID_SPAN)
    context = context_from(parent) if parent is not None else None
    return tracer.start_as_current_span(name, context=context, kind=kind)


def current_traceparent() -> str:
    """The current span as a W3C traceparent, "" when nothing is traced."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def context_from(traceparent: str) -> context.Context:
    """A context whose parent is the span `traceparent` names (an empty one for "")."""
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})
