"""The long-lived parts of a process (engine, hashing pool, broker), built once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts.passwords import PasswordHashing
from regmail.accounts.service import AccountService
from regmail.brokers.base import Broker
from regmail.brokers.db import DbBroker
from regmail.brokers.factory import make_broker
from regmail.db.engine import create_engine
from regmail.db.group_commit import GroupCommit
from regmail.db.migrate import migrate
from regmail.mail.pauses import PauseBoard
from regmail.mail.provider import ProviderGate
from regmail.mail.render import Renderer
from regmail.mail.sealing import Sealer
from regmail.mail.sink import Mailbox
from regmail.mail.smtp import SmtpPool, parse_smtp_url
from regmail.retry import RetryPolicy
from regmail.settings import Settings
from regmail.worker import Delivery


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    outbox: DbBroker  # the transactional outbox: the queue itself with broker=db
    writes: GroupCommit  # the worker's writes, committed in groups
    broker: Broker  # what workers consume from
    hashing: PasswordHashing
    accounts: AccountService
    sealer: Sealer  # seals mail payloads at rest (API) and opens them (worker)
    mailbox: Mailbox | None = None

    @classmethod
    def build(cls, settings: Settings, mailbox: Mailbox | None = None) -> Runtime:
        engine = create_engine(settings)
        writes = GroupCommit(engine)
        # With broker=db the outbox lease covers an SMTP send; otherwise only a publish.
        relaying = settings.broker_url.get_secret_value() != "db"
        lease = settings.relay_lease_seconds if relaying else settings.lease_seconds
        outbox = DbBroker(engine, lease, settings.worker_poll_seconds, writes)
        broker = make_broker(settings, outbox)
        hashing = PasswordHashing(settings)
        sealer = Sealer.from_settings(settings)
        accounts = AccountService(engine, hashing, settings, sealer, on_enqueued=outbox.wake)
        return cls(settings, engine, outbox, writes, broker, hashing, accounts, sealer, mailbox)

    @property
    def relays(self) -> bool:
        """Whether outbox rows must be relayed to a separate broker."""
        return self.broker is not self.outbox

    def delivery(self) -> tuple[Delivery, SmtpPool]:
        s = self.settings
        pool = SmtpPool(
            parse_smtp_url(s.smtp_url.get_secret_value()),
            size=s.worker_concurrency,
            timeout=s.smtp_timeout,
            idle_check_seconds=s.smtp_idle_check_seconds,
            max_per_second=s.smtp_max_per_second,
        )
        renderer = Renderer(s.mail_from, s.public_url)
        policy = RetryPolicy.from_settings(s)
        board = PauseBoard(self.engine)
        gate = ProviderGate(cap_seconds=s.smtp_pause_max_seconds, announce=board.announce)
        delivery = Delivery(self.writes, renderer, pool, policy, s.lease_seconds, self.sealer, gate)
        return delivery, pool

    async def close(self) -> None:
        await self.broker.close()
        await self.outbox.close()
        self.hashing.close()
        await self.engine.dispose()


async def migrate_all(settings: Settings) -> None:
    """What `regmail migrate` does: the schema (Alembic), then the broker's queues or topics."""
    runtime = Runtime.build(settings)
    try:
        await migrate(runtime.engine)
        await runtime.broker.prepare()
    finally:
        await runtime.close()
