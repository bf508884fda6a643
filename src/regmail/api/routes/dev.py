"""The dev mailbox (only with `regmail dev`): what the built-in sink received."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from regmail.api.deps import get_runtime
from regmail.api.pages import templates
from regmail.api.problems import Problem
from regmail.mail.sink import Mailbox
from regmail.runtime import Runtime

router = APIRouter(prefix="/dev", tags=["dev"])


async def get_mailbox(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Mailbox:
    if runtime.mailbox is None:
        raise Problem(404, "Not found", "the dev mailbox exists only under `regmail dev`")
    return runtime.mailbox


@router.get("/mailbox/messages", summary="Received mails as JSON, newest first")
async def dev_mailbox_messages(
    mailbox: Annotated[Mailbox, Depends(get_mailbox)],
) -> list[dict[str, Any]]:
    return [mail.as_json() for mail in mailbox.all()]


@router.get("/mailbox", response_class=HTMLResponse, include_in_schema=False)
async def mailbox_page(
    request: Request, mailbox: Annotated[Mailbox, Depends(get_mailbox)]
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "mailbox.html", {"lang": "en", "mails": mailbox.all()}
    )


@router.get("/mailbox/{mail_id}", response_class=HTMLResponse, include_in_schema=False)
async def mail_page(
    request: Request, mail_id: int, mailbox: Annotated[Mailbox, Depends(get_mailbox)]
) -> HTMLResponse:
    mail = mailbox.get(mail_id)
    if mail is None:
        raise Problem(404, "No such mail")
    return templates.TemplateResponse(request, "mail.html", {"lang": "en", "mail": mail})
