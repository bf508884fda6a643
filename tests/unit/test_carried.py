"""db/carried.py: a carrying statement whose bound names meet a written table's columns is
refused when built, not left for SQLAlchemy to write those values into the columns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select

from regmail.accounts import store, tokens
from regmail.accounts.addresses import parse_address
from regmail.accounts.tokens import Purpose
from regmail.db.carried import carrying, insert_bound
from regmail.db.tables import accounts, mails
from regmail.mails.queue import _queue_on_postgres


def test_a_bound_name_that_is_a_written_column_is_refused() -> None:
    # The first try's mistake: the mail's id bound as `id`, beside a pending account's
    # UPDATE, which then set the account's id to the mail's.
    mail = mails.insert().values(id=bindparam("id")).returning(mails.c.id).cte("mail")
    update = accounts.update().values(password_hash=bindparam("pending__password_hash"))
    with pytest.raises(ValueError, match=r"\['id'\]"):
        carrying(select(mail.c.id), [update])


def test_a_name_in_a_carried_write_is_checked_too() -> None:
    insert = accounts.insert().values(locale=bindparam("locale"))
    with pytest.raises(ValueError, match="locale"):
        carrying(select(mails.c.id), [insert])


def test_prefixed_names_pass() -> None:
    write = insert_bound(accounts, "account", ["id", "email", "locale"])
    mail = insert_bound(mails, "mail", ["id", "kind"]).returning(mails.c.id).cte("mail")
    statement = carrying(select(mail.c.id), [write])
    assert "account__id" in str(statement.compile())


def test_the_sign_ups_statements_pass() -> None:
    now = datetime.now(UTC)
    account, created = store.new_account(parse_address("a@example.com"), "hash", "en", now)
    _, _, token = tokens.issued(account.id, Purpose.ACTIVATION, now, 60, password_hash="hash")
    pending = store.pending_password(account.id, "hash")
    for carried in [(created.statement, token.statement), (pending.statement, token.statement)]:
        for suppressible in (False, True):
            _queue_on_postgres(tuple(mails.c.keys()), suppressible, carried)
