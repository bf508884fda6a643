"""What the `regmail` command says when it cannot go on: one line per problem, naming the
setting or the server, never a secret (pydantic's own message repeats the input, and a
driver's may hold a URL)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from regmail.db.engine import DATABASE_ERRORS
from regmail.extras import MissingExtra
from regmail.mails.sealing import UnsafeKeyFile


def _broker_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = []
    try:
        from aiormq.exceptions import AMQPError

        errors.append(AMQPError)
    except ImportError:  # the rabbitmq extra is not installed
        pass
    try:
        from aiokafka.errors import KafkaError

        errors.append(KafkaError)
    except ImportError:  # the kafka extra is not installed
        pass
    return tuple(errors)


# A server that is down, refuses or times out: the database, the broker, the SMTP server.
UNREACHABLE: tuple[type[Exception], ...] = (*DATABASE_ERRORS, *_broker_errors())
OPERATOR_ERRORS: tuple[type[Exception], ...] = (
    MissingExtra,
    UnsafeKeyFile,
    ValidationError,
    *UNREACHABLE,
)


# How SQLite and PostgreSQL say a table is missing.
NOT_MIGRATED = ("no such table", "UndefinedTableError")


def setting_problems(error: ValidationError) -> list[str]:
    """`REGMAIL_NAME: what is wrong`, one per problem; a problem of several settings
    together names them itself."""
    return [f"{name}: {what}" if name else what for name, what in _problems(error)]


def _problems(error: ValidationError) -> list[tuple[str | None, str]]:
    """(the setting, what is wrong with it), the setting None for a problem of several."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        loc = problem["loc"]
        name = "REGMAIL_" + "_".join(str(part) for part in loc).upper() if loc else None
        problems.append((name, problem["msg"].removeprefix("Value error, ")))
    return problems


def explain(error: BaseException) -> list[str]:
    if isinstance(error, ValidationError):
        return [
            f"invalid setting {name}: {what}" if name else f"invalid settings: {what}"
            for name, what in _problems(error)
        ]
    if isinstance(error, MissingExtra | UnsafeKeyFile):
        return [str(error)]
    line = _first_line(error)
    if any(sign in line for sign in NOT_MIGRATED):
        return [f"the database has no regmail schema yet ({line}): run `regmail migrate`"]
    return [f"cannot reach {_which(error)}: {line} (--debug for the traceback)"]


def _which(error: BaseException) -> str:
    module = type(error).__module__
    if isinstance(error, SQLAlchemyError) or module.startswith("asyncpg"):
        return "the database"
    if module.startswith(("aiormq", "aio_pika")):
        return "RabbitMQ"
    if module.startswith("aiokafka"):
        return "Kafka"
    return "a server"


def _first_line(error: BaseException) -> str:
    """The driver's own error (SQLAlchemy wraps it), its first line only: the rest is the
    statement and a link."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__
