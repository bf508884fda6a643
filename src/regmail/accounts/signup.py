"""Sign-up and activation: an account becomes active only through someone who holds an
activation link (the inbox) AND knows the password of a sign-up for that address.

Every sign-up for a pending address hashes its own password and binds the hash to its own
activation token, mailed to the address. Activation takes the token and a password, and
makes the account active with whichever pending sign-up's password that is (the clicked
link's first). So a stranger who signs up first with someone else's address holds no link
and cannot activate; the owner, holding every link, activates with their own password
whichever mail they open; and opening a link (a mail scanner fetching it) changes nothing:
the page only asks for the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from regmail.accounts import store, tokens
from regmail.accounts.addresses import Address
from regmail.accounts.kinds import ACTIVATION, ALREADY_REGISTERED
from regmail.accounts.links import live_link
from regmail.accounts.mailing import AccountMail
from regmail.accounts.passwords import PasswordHashing, check_new_password
from regmail.accounts.requests import AddressRequest
from regmail.accounts.status import AccountStatus
from regmail.accounts.tokens import Purpose, TokenError
from regmail.clock import utcnow
from regmail.db.carried import Write
from regmail.db.engine import brief, one_write, readonly
from regmail.event_types import EventType
from regmail.settings import Settings

# Pending sign-ups whose password an activation tries beside the clicked link's own; the
# per-address mail limit keeps there from being more than a handful.
MAX_SIGN_UPS_TRIED = 5


class WrongPassword(Exception):
    """The password is not one chosen at a sign-up for this account."""


@dataclass(frozen=True)
class Activated:
    account_id: str
    email: str


class SignUp:
    def __init__(
        self, engine: AsyncEngine, hashing: PasswordHashing, settings: Settings, mail: AccountMail
    ) -> None:
        self._engine = engine
        self._reads = readonly(engine)  # look-ups take no write lock
        # A handful of rows (db/engine.py); with no event to write beside them, the
        # look-up and one statement (db/carried.py), so no BEGIN and COMMIT on PostgreSQL.
        wrote_alone = not mail.emits(EventType.REGISTERED)
        self._sign_ups = one_write(engine) if wrote_alone else brief(engine)
        self._hashing = hashing
        self._settings = settings
        self._mail = mail

    async def register(self, address: Address, password: str, locale: str) -> None:
        """PasswordRefused if the password does not meet the policy."""
        checked = check_new_password(password, self._settings.password_min_length, address.display)
        # Hash before looking the address up, so known and unknown addresses cost the same.
        password_hash = await self._hashing.hash(checked)
        now = utcnow()
        try:
            async with self._sign_ups.begin() as conn:
                queued = await self._register_in(conn, address, password_hash, locale, now)
        except IntegrityError:
            # A concurrent sign-up for the same address won the insert: treat as known.
            async with self._sign_ups.begin() as conn:
                queued = await self._register_in(conn, address, password_hash, locale, now)
        self._mail.queue.committed(*queued)

    async def _register_in(
        self,
        conn: AsyncConnection,
        address: Address,
        password_hash: str,
        locale: str,
        now: datetime,
    ) -> list[str | None]:
        """The ids of what this sign-up queued: its mail, if limits let it, and events."""
        # The address's limits hold for a new account too (one deleted and signed up again
        # within the hour, say), and reading them with the account keeps the cost, and so
        # the answer time, the same for a known address and an unknown one.
        addressee = await self._mail.addressee(conn, address, now)
        account, known = addressee.account, addressee.address
        if not addressee.allowed:
            return []
        if account is None:
            created, write = store.new_account(address, password_hash, locale, now)
            mail_id = await self._activation_mail(
                conn, created.id, address, locale, password_hash, now, write
            )
            events = await self._mail.event(conn, EventType.REGISTERED, created, now)
            return [mail_id, *events]
        if account.status == AccountStatus.PENDING:
            write = store.pending_password(account.id, password_hash)
            mail_id = await self._activation_mail(
                conn, account.id, known, account.locale, password_hash, now, write
            )
            return [mail_id]
        mail_id = await self._mail.send(
            conn, ALREADY_REGISTERED, known.ascii, account.locale, now, account_id=account.id
        )
        return [mail_id]

    async def resend_in(self, conn: AsyncConnection, request: AddressRequest) -> str | None:
        """A pending account gets its activation mail again (its latest sign-up's password);
        others nothing. Runs after the request was answered (accounts/requests.py)."""
        now = utcnow()
        addressee = await self._mail.addressee(conn, request.address, now)
        account = addressee.account
        if account is None or account.status != AccountStatus.PENDING or not addressee.allowed:
            return None
        return await self._activation_mail(
            conn, account.id, addressee.address, account.locale, account.password_hash, now
        )

    async def _activation_mail(
        self,
        conn: AsyncConnection,
        account_id: str,
        address: Address,
        locale: str,
        password_hash: str,
        now: datetime,
        *carried: Write,
    ) -> str | None:
        """The activation mail, its token and the `carried` writes before them: one
        statement on PostgreSQL (db/carried.py)."""
        ttl = self._settings.token_ttl_seconds
        token, expires_at, issued = tokens.issued(
            account_id, Purpose.ACTIVATION, now, ttl, password_hash=password_hash
        )
        return await self._mail.send(
            conn,
            ACTIVATION,
            address.ascii,
            locale,
            now,
            account_id=account_id,
            context={"token": token},
            expires_at=expires_at,
            carried=(*carried, issued),
        )

    async def activate(self, token: str, password: str) -> Activated:
        """TokenError (invalid, used, expired) or WrongPassword, else the account is active."""
        now = utcnow()
        # Read first: a made-up or spent token costs a read, never the write lock.
        async with self._reads.connect() as conn:
            clicked, account = await live_link(conn, token, Purpose.ACTIVATION, now)
            others = await tokens.live_activations(conn, account.id, now, MAX_SIGN_UPS_TRIED)
        if account.status != AccountStatus.PENDING:
            raise TokenError("used")
        candidates = [clicked, *(t for t in others if t.hash != clicked.hash)]
        chosen = await self._sign_up_of(candidates, password)
        async with self._engine.begin() as conn:
            await tokens.use(conn, clicked, now)
            assert chosen.password_hash is not None
            await store.set_password(conn, account.id, chosen.password_hash, now, activate=True)
            await tokens.retire(conn, account.id, {Purpose.ACTIVATION}, now)
            events = await self._mail.event(conn, EventType.ACTIVATED, account, now)
        self._mail.queue.committed(*events)
        return Activated(account.id, account.email)

    async def _sign_up_of(self, candidates: list[tokens.Token], password: str) -> tokens.Token:
        for candidate in candidates:
            if await self._hashing.verify(candidate.password_hash, password):
                return candidate
        raise WrongPassword
