"""Kinds of mail: an application's own kind delivered like regmail's, templates overridden
per file, and a mail regmail cannot send refused when it is queued, never in a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from regmail.clock import utcnow
from regmail.db.tables import mails, outbox
from regmail.mail.render import Renderer
from regmail.mail.sink import Mailbox
from regmail.mails.kinds import BUILTIN_KINDS, InvalidMail, Kind, Kinds, Site
from regmail.mails.queue import NewMail
from regmail.runtime import Runtime
from tests.support.app_kinds import TEMPLATES
from tests.support.service import Service, make_settings, running_service
from tests.support.smtp_sink import SmtpSink

APP_KINDS = ["tests.support.app_kinds:KINDS"]
SHIPPED = NewMail("order_shipped", "ada@example.com", "en", {"order": "A-17", "items": 3})


async def _queue(svc: Service, mail: NewMail) -> str | None:
    async with svc.runtime.engine.begin() as conn:
        mail_id = await svc.runtime.queue.enqueue(conn, mail, utcnow())
    svc.runtime.queue.committed(mail_id)
    return mail_id


async def test_an_applications_kind_is_delivered_with_its_own_templates(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    settings = make_settings(tmp_path, smtp_url=url, kinds=APP_KINDS, product_name="Acme Shop")
    async with running_service(settings) as svc:
        mail_id = await _queue(svc, SHIPPED)
        [row] = await svc.wait_for_rows(lambda r: r.status == "sent")
    [received] = mailbox.all()
    assert row.id == mail_id
    assert received.subject == "Order A-17 has shipped"
    assert "3 items of order A-17" in received.text
    assert "http://regmail.test/orders?id=A-17" in received.links
    assert "Acme Shop (the shop's own base)" in received.html  # its own base.html


async def test_a_kinds_own_retry_policy_applies(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.start("-r", "RCPT")  # 4xx: the default policy would try 15 times
    settings = make_settings(tmp_path, smtp_url=smtp_sink.url, kinds=APP_KINDS)
    async with running_service(settings) as svc:
        await _queue(svc, SHIPPED)
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")
    assert (row.dead_reason, row.attempts) == ("max-attempts", 1)


async def test_templates_dir_overrides_one_file_and_keeps_the_rest(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = aiosmtpd_server
    own = tmp_path / "templates"
    own.mkdir()
    (own / "activation.en.subject").write_text("Welcome to {{ product_name }}: one more step\n")
    settings = make_settings(
        tmp_path,
        smtp_url=url,
        templates_dir=own,
        product_name="Acme",
        support_email="help@acme.example",
    )
    async with running_service(settings) as svc:
        await svc.register("ada@example.com")
        await svc.wait_for_rows(lambda r: r.status == "sent")
    [received] = mailbox.all()
    assert received.subject == "Welcome to Acme: one more step"
    assert "To activate the account, open this link" in received.text  # the built-in body
    assert "Acme <help@acme.example>" in received.text
    assert 'href="mailto:help@acme.example"' in received.html


@pytest.mark.parametrize(
    ("mail", "field"),
    [
        (NewMail("invoice", "ada@example.com", "en"), "kind"),
        (NewMail("activation", "ada@example.com", "fr", {"token": "t"}), "locale"),
        (NewMail("activation", "ada@example.com", "en"), "context.token"),
        (NewMail("activation", "ada@example.com", "en", {"token": "t", "x": 1}), "context.x"),
        (
            NewMail("activation", "ada@example.com\r\nBcc: eve@example.com", "en", {"token": "t"}),
            "recipient",
        ),
    ],
)
async def test_a_mail_regmail_cannot_send_is_refused_when_queued(
    tmp_path: Path, mail: NewMail, field: str
) -> None:
    async with running_service(make_settings(tmp_path), worker=False) as svc:
        with pytest.raises(InvalidMail) as refused:
            await _queue(svc, mail)
        async with svc.runtime.engine.connect() as conn:
            for table in (mails, outbox):
                assert await conn.scalar(select(func.count()).select_from(table)) == 0
    assert refused.value.field == field


async def test_a_worker_without_the_kind_makes_the_mail_dead_not_a_crash(
    tmp_path: Path, aiosmtpd_server: tuple[str, Mailbox]
) -> None:
    """Queued by an API that knows the kind, met by a worker that does not: dead with a
    reason an operator can act on (set REGMAIL_KINDS, replay)."""
    url, mailbox = aiosmtpd_server
    api_settings = make_settings(tmp_path, smtp_url=url, kinds=APP_KINDS)
    async with running_service(api_settings, worker=False) as api:
        mail_id = await _queue(api, SHIPPED)
        [queued] = await api.mail_rows()
    assert list(queued.payload) == ["sealed"] and "A-17" not in str(queued.payload)
    worker_settings = make_settings(tmp_path, smtp_url=url)
    async with running_service(worker_settings) as svc:
        [row] = await svc.wait_for_rows(lambda r: r.status == "dead")
    assert (row.id, row.dead_reason) == (mail_id, "unknown-kind")
    assert "REGMAIL_KINDS" in row.last_reply
    assert mailbox.all() == []


def test_a_kind_whose_template_is_missing_stops_the_worker_at_start() -> None:
    lacking = Kind("order_cancelled", TEMPLATES, locales=("en",))
    with pytest.raises(ValueError, match=r"order_cancelled\.en\.subject not found"):
        Renderer(Kinds([lacking]), "shop@example.com", Site("https://x", "Shop"))


def test_two_kinds_of_one_name_are_refused() -> None:
    [activation] = [k for k in Kinds.load(*BUILTIN_KINDS).values() if k.name == "activation"]
    with pytest.raises(ValueError, match="two kinds are named 'activation'"):
        Kinds([activation, activation])


async def test_a_kinds_spec_that_names_no_kinds_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a sequence of"):
        Runtime.build(make_settings(tmp_path, kinds=["tests.support.app_kinds:TEMPLATES"]))


def test_a_broken_base_template_in_the_override_stops_the_worker_at_start(
    tmp_path: Path,
) -> None:
    """Only the pages that extend base.html would fail: found at start, not mail by mail."""
    (tmp_path / "base.html").write_text("<html>{% block body %}")
    with pytest.raises(ValueError, match=r"activation: base\.html line 1"):
        Renderer(Kinds.load(*BUILTIN_KINDS), "a@example.com", Site("https://x", "X"), tmp_path)
