"""One log pipeline (structlog): regmail's own events and every library's standard-library
log records (uvicorn, aiosmtpd, aiormq, aiokafka…) rendered alike, one line each, in one
stream: JSON for machines, readable console lines for a person (`regmail dev`, a terminal).

regmail's events go straight to the renderer (structlog's print logger: the cheap path, a
worker logs per mail); library records reach the same processors through structlog's
ProcessorFormatter on the root logger. Both carry the request and mail ids bound in
contextvars.
"""

from __future__ import annotations

import logging
import sys

import structlog

SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def wants_json(explicit: bool | None, for_a_person: bool = False) -> bool:
    """REGMAIL_LOG_JSON when set; otherwise JSON unless a person reads it (`regmail dev`,
    or stderr is a terminal)."""
    if explicit is not None:
        return explicit
    return not (for_a_person or sys.stderr.isatty())


def configure_logging(level: str = "info", json: bool = True) -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*SHARED, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Libraries' info lines are noise beside regmail's own events; their warnings are not.
    root.setLevel(max(numeric, logging.WARNING))
