"""The accounts table: every statement on it."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from regmail.accounts.addresses import Address
from regmail.accounts.status import AccountStatus
from regmail.db.carried import Write, bind_name, bound, insert_bound
from regmail.db.tables import accounts


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password_hash: str
    status: AccountStatus
    locale: str
    created_at: datetime
    activated_at: datetime | None
    failed_sign_ins: int

    def as_json(self) -> dict[str, Any]:
        """What an operator or the host application sees (never the hash)."""
        return {
            "id": self.id,
            "email": self.email,
            "status": self.status,
            "locale": self.locale,
            "created_at": self.created_at.isoformat(),
            "activated_at": self.activated_at.isoformat() if self.activated_at else None,
            "failed_sign_ins": self.failed_sign_ins,
        }


# The statements of every sign-up, built once: a statement built per call costs more CPU
# (SQLAlchemy derives its cache key each time) than SQLite takes to run it (bench/README.md).
_BY_KEY = select(accounts).where(accounts.c.email_key == bindparam("key"))
_BY_ID = select(accounts).where(accounts.c.id == bindparam("id"))
_NEW = "account"  # the prefix of a new account's bound values (db/carried.py)
_INSERT = insert_bound(
    accounts,
    _NEW,
    (
        "id",
        "email",
        "email_key",
        "password_hash",
        "status",
        "locale",
        "created_at",
        "failed_sign_ins",
    ),
)
_PENDING = "pending"
_SET_PENDING_PASSWORD = (
    update(accounts)
    .where(
        accounts.c.id == bindparam(bind_name(_PENDING, "id")),
        accounts.c.status == bindparam(bind_name(_PENDING, "status")),
    )
    .values(password_hash=bindparam(bind_name(_PENDING, "password_hash")))
)


async def by_key(conn: AsyncConnection, key: str) -> Account | None:
    """The account of an address (`Address.key`)."""
    row = (await conn.execute(_BY_KEY, {"key": key})).first()
    return _account(row) if row is not None else None


def by_key_beside(one_row: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """A statement that reads `one_row` (a query of exactly one row) and, beside it, the
    account of the address bound as `key` (its columns None when there is none): two
    look-ups in one round trip. Build it once; read the account with `account_in`."""
    beside = one_row.subquery()
    found = beside.outerjoin(accounts, accounts.c.email_key == bindparam("key"))
    return select(beside, accounts).select_from(found)


def account_in(row: Row[Any]) -> Account | None:
    """The account in a row of a `by_key_beside` statement."""
    return _account(row) if row._mapping["id"] is not None else None


async def by_id(conn: AsyncConnection, account_id: str) -> Account | None:
    row = (await conn.execute(_BY_ID, {"id": account_id})).first()
    return _account(row) if row is not None else None


def new_account(
    address: Address, password_hash: str, locale: str, now: datetime
) -> tuple[Account, Write]:
    """A pending account and its INSERT, to run or for a later statement to carry
    (db/carried.py); IntegrityError from that statement if the address has an account."""
    account = Account(
        id=str(uuid.uuid4()),
        email=address.display,
        password_hash=password_hash,
        status=AccountStatus.PENDING,
        locale=locale,
        created_at=now,
        activated_at=None,
        failed_sign_ins=0,
    )
    row = {
        "id": account.id,
        "email": account.email,
        "email_key": address.key,
        "password_hash": password_hash,
        "status": account.status,
        "locale": locale,
        "created_at": now,
        "failed_sign_ins": 0,
    }
    return account, Write(_INSERT, bound(_NEW, row))


async def set_password(
    conn: AsyncConnection, account_id: str, password_hash: str, now: datetime, activate: bool
) -> None:
    """A new password; with `activate`, a pending account becomes active with it. Failed
    sign-ins are forgotten either way."""
    values: dict[str, Any] = {"password_hash": password_hash, "failed_sign_ins": 0}
    if activate:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.status == AccountStatus.PENDING)
            .values(status=AccountStatus.ACTIVE, activated_at=now)
        )
    await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


def pending_password(account_id: str, password_hash: str) -> Write:
    """A pending account's latest sign-up: its password is the one a sign-in check knows
    (a write for a later statement to carry: db/carried.py)."""
    row = {"id": account_id, "status": AccountStatus.PENDING, "password_hash": password_hash}
    return Write(_SET_PENDING_PASSWORD, bound(_PENDING, row))


async def rehash(conn: AsyncConnection, account_id: str, old_hash: str, new_hash: str) -> None:
    """The same password under today's argon2 parameters (unless it changed meanwhile)."""
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.password_hash == old_hash)
        .values(password_hash=new_hash)
    )


async def record_failed_sign_in(conn: AsyncConnection, account_id: str) -> None:
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(failed_sign_ins=accounts.c.failed_sign_ins + 1)
    )


async def clear_failed_sign_ins(conn: AsyncConnection, account_id: str) -> None:
    await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(failed_sign_ins=0)
    )


async def change_address(conn: AsyncConnection, account_id: str, address: Address) -> None:
    """IntegrityError if another account has the address by now."""
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(email=address.display, email_key=address.key)
    )


async def delete_accounts(conn: AsyncConnection, account_ids: Collection[str]) -> None:
    await conn.execute(delete(accounts).where(accounts.c.id.in_(account_ids)))


async def pending_before(conn: AsyncConnection, before: datetime, limit: int) -> list[Account]:
    """Pending accounts created before `before` (never activated in time)."""
    query = (
        select(accounts)
        .where(accounts.c.status == AccountStatus.PENDING, accounts.c.created_at < before)
        .limit(limit)
    )
    return [_account(row) for row in await conn.execute(query)]


def _account(row: Row[Any]) -> Account:
    r = row._mapping
    return Account(
        r["id"],
        r["email"],
        r["password_hash"],
        AccountStatus(r["status"]),
        r["locale"],
        r["created_at"],
        r["activated_at"],
        r["failed_sign_ins"],
    )
