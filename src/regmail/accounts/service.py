"""An account's whole life, put together: sign-up and activation, the sign-in check,
password reset, address change, and what operators do; one file each beside this one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from regmail.accounts.addresses import Address
from regmail.accounts.admin import AccountAdmin
from regmail.accounts.credentials import Credentials
from regmail.accounts.email_changes import EmailChanges
from regmail.accounts.links import Links
from regmail.accounts.mailing import AccountMail
from regmail.accounts.passwords import PasswordHashing
from regmail.accounts.requests import Action, AddressRequests
from regmail.accounts.resets import PasswordResets
from regmail.accounts.signup import SignUp
from regmail.mails.events import Events
from regmail.mails.queue import MailQueue
from regmail.settings import Settings


@dataclass(frozen=True)
class Accounts:
    signup: SignUp
    credentials: Credentials
    resets: PasswordResets
    email_changes: EmailChanges
    admin: AccountAdmin
    requests: AddressRequests
    links: Links

    @classmethod
    def build(
        cls,
        engine: AsyncEngine,
        hashing: PasswordHashing,
        settings: Settings,
        queue: MailQueue,
        events: Events,
    ) -> Accounts:
        mail = AccountMail(queue, events, settings)
        signup = SignUp(engine, hashing, settings, mail)
        credentials = Credentials(engine, hashing)
        resets = PasswordResets(engine, hashing, settings, mail)
        handlers = {Action.RESEND: signup.resend_in, Action.RESET: resets.reset_in}
        return cls(
            signup,
            credentials,
            resets,
            EmailChanges(engine, credentials, settings, mail),
            AccountAdmin(engine, settings.pending_account_days, mail),
            AddressRequests(engine, queue, handlers, settings.address_request_jitter_seconds),
            Links(engine),
        )

    async def request_resend(self, address: Address, locale: str) -> None:
        await self.requests.submit(Action.RESEND, address, locale)

    async def request_reset(self, address: Address, locale: str) -> None:
        await self.requests.submit(Action.RESET, address, locale)

    async def run(self, stop: asyncio.Event) -> None:
        """Beside the API: address requests left by a dead process, and the hourly purge."""
        await asyncio.gather(self.requests.run(stop), self.admin.run(stop))
