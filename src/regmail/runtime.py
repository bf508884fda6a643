"""The long-lived parts of a process, built once from the settings and closed together:
the engine, the group commit, the kinds, the mail queue, the broker, the hashing pool, and
(built on first use) delivery with its SMTP pool and the relay's view of the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts.passwords import PasswordHashing
from regmail.accounts.service import Accounts
from regmail.brokers.base import Broker
from regmail.brokers.factory import make_broker, make_outbox, relays
from regmail.db.engine import create_engine
from regmail.db.group_commit import GroupCommit
from regmail.db.migrate import migrate
from regmail.delivery.events import EventSender
from regmail.delivery.pace import Pace
from regmail.delivery.pauses import PauseBoard
from regmail.delivery.provider import ProviderGate
from regmail.delivery.worker import Delivery
from regmail.mail.render import Renderer
from regmail.mail.sink import Mailbox
from regmail.mail.smtp import SmtpPool
from regmail.mails.attempts import Attempts
from regmail.mails.events import Events, destinations_of, endpoints_of
from regmail.mails.kinds import Kinds
from regmail.mails.outbox import Wakeup
from regmail.mails.queue import MailQueue
from regmail.mails.retry import RetryPolicy
from regmail.mails.sealing import Sealer
from regmail.mails.suppressions import Suppressions
from regmail.settings import Settings
from regmail.smtp_url import parse_smtp_url


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    writes: GroupCommit  # the worker's and relay's writes, committed in groups
    kinds: Kinds
    sealer: Sealer  # seals mail payloads at rest (queue) and opens them (delivery)
    queue: MailQueue  # queues mail in the caller's transaction, rings `wakeup` after it
    events: Events  # account events and mail.dead, to every destination that wants them
    wakeup: Wakeup  # new outbox rows, for the consumers of this process
    broker: Broker  # what workers consume from (with broker=db, the outbox table)
    hashing: PasswordHashing
    accounts: Accounts
    mailbox: Mailbox | None = None  # `regmail dev`'s
    _delivery: Delivery | None = field(default=None, init=False)
    _smtp: SmtpPool | None = field(default=None, init=False)
    _event_sender: EventSender | None = field(default=None, init=False)
    _outbox: Broker | None = field(default=None, init=False)

    @classmethod
    def build(cls, settings: Settings, mailbox: Mailbox | None = None) -> Runtime:
        kinds = Kinds.configured(settings)  # first: a wrong REGMAIL_KINDS opens nothing
        engine = create_engine(settings)
        writes = GroupCommit(engine)
        wakeup = Wakeup()
        sealer = Sealer.from_settings(settings)
        queue = MailQueue(kinds, sealer, wakeup)
        events = Events(queue, destinations_of(settings))
        broker = make_broker(settings, engine, writes, wakeup)
        hashing = PasswordHashing(settings)
        accounts = Accounts.build(engine, hashing, settings, queue, events)
        return cls(
            settings,
            engine,
            writes,
            kinds,
            sealer,
            queue,
            events,
            wakeup,
            broker,
            hashing,
            accounts,
            mailbox,
        )

    @property
    def relays(self) -> bool:
        """Whether outbox rows must be relayed to a separate broker."""
        return relays(self.settings)

    def delivery(self) -> Delivery:
        """This process's delivery (one SMTP pool, one provider gate, one pace)."""
        if self._delivery is None:
            s = self.settings
            self._smtp = SmtpPool(
                parse_smtp_url(s.smtp_url.get_secret_value()),
                size=s.smtp_connections or s.worker_concurrency,
                timeout=s.smtp_timeout,
                idle_check_seconds=s.smtp_idle_check_seconds,
            )
            self._event_sender = EventSender(
                endpoints_of(s),
                s.webhook_timeout,
                s.webhook_concurrency,
                self.broker if s.events_to_broker else None,
            )
            self._delivery = Delivery(
                Attempts(self.writes, s.lease_seconds, self.events),
                Suppressions(self.writes),
                self.sealer,
                Renderer.from_settings(self.kinds, s),
                self._smtp,
                RetryPolicy.from_settings(s),
                self._gate,
                Pace(s.smtp_max_per_second) if s.smtp_max_per_second > 0 else None,
                self._event_sender,
            )
        return self._delivery

    def _gate(self, destination: str) -> ProviderGate:
        """A destination's pause (smtp, or an event destination), announced for /readyz."""
        return ProviderGate(
            cap_seconds=self.settings.smtp_pause_max_seconds,
            announce=PauseBoard(self.engine, destination).announce,
            destination=destination,
        )

    def outbox(self) -> Broker:
        """The outbox table as the relay consumes it."""
        if self._outbox is None:
            self._outbox = make_outbox(self.settings, self.engine, self.writes, self.wakeup)
        return self._outbox

    async def close(self) -> None:
        if self._smtp is not None:
            await self._smtp.close()
        if self._event_sender is not None:
            await self._event_sender.close()
        if self._outbox is not None:
            await self._outbox.close()
        await self.broker.close()
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
