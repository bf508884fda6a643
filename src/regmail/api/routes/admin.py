"""The admin API (Bearer REGMAIL_ADMIN_TOKEN): inspect and replay mails; look up and delete
accounts; suppressions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from regmail.accounts.addresses import parse_address
from regmail.api.admin_auth import require_admin
from regmail.api.deps import get_runtime
from regmail.api.problems import Problem, field_errors
from regmail.api.results import AccountOut, MailOut, SuppressionOut
from regmail.mails import suppressions
from regmail.mails.kinds import NotReplayable
from regmail.mails.replay import replay
from regmail.mails.status import DeadReason, MailStatus
from regmail.mails.views import MailFilter, count_by_status, get_mail, list_mails, parse_since
from regmail.metrics import ACCOUNT_CHANGES
from regmail.runtime import Runtime

ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong Bearer token"},
    404: {"description": "No such mail or account, or the admin API is disabled"},
    503: {"description": "Database unavailable; retry"},
}
router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_PROBLEMS,
)


@router.get("/messages", summary="Mails, newest change first", response_model=list[MailOut])
async def list_messages(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    status: MailStatus | None = None,
    recipient: Annotated[str | None, Query(max_length=320)] = None,
    reason: Annotated[DeadReason | None, Query(description="dead reason")] = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="changed since: an age (2h, 7d) or an ISO 8601 time"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MailOut]:
    try:
        changed_since = None if since is None else parse_since(since)
    except ValueError as error:
        raise field_errors([{"field": "since", "message": str(error)}]) from None
    which = MailFilter(status, recipient, reason, changed_since)
    return [MailOut(**m.__dict__) for m in await list_mails(runtime.engine, which, limit)]


@router.get("/messages/{mail_id}", summary="One mail's delivery state", response_model=MailOut)
async def get_message(
    mail_id: Annotated[str, Path(max_length=36)], runtime: Annotated[Runtime, Depends(get_runtime)]
) -> MailOut:
    view = await get_mail(runtime.engine, mail_id)
    if view is None:
        raise Problem(404, "No such mail")
    return MailOut(**view.__dict__)


@router.post(
    "/messages/{mail_id}/retry",
    summary="Replay a dead or retrying mail now",
    responses={409: {"description": "Not dead or retrying, or its account is already active"}},
    response_model=MailOut,
)
async def retry_message(
    mail_id: Annotated[str, Path(max_length=36)], runtime: Annotated[Runtime, Depends(get_runtime)]
) -> MailOut:
    try:
        view = await replay(runtime.engine, runtime.queue, runtime.settings, mail_id)
    except LookupError:
        raise Problem(404, "No such mail") from None
    except NotReplayable as error:
        raise Problem(409, "Not retryable", str(error)) from None
    return MailOut(**view.__dict__)


@router.get("/stats", summary="How many mails (and events) there are in each status")
async def mail_stats(runtime: Annotated[Runtime, Depends(get_runtime)]) -> dict[str, int]:
    return await count_by_status(runtime.engine)


@router.get(
    "/suppressions",
    summary="Addresses that hard-bounced and get no more mail",
    response_model=list[SuppressionOut],
)
async def list_suppressions(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[SuppressionOut]:
    return [
        SuppressionOut(**s.__dict__)
        for s in await suppressions.list_suppressions(runtime.engine, limit)
    ]


@router.delete(
    "/suppressions/{address}", status_code=204, summary="Let mail go to this address again"
)
async def lift_suppression(
    address: Annotated[str, Path(max_length=320)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> None:
    if not await suppressions.lift(runtime.engine, address):
        raise Problem(404, "No such suppression")


@router.get(
    "/accounts",
    summary="The account of an address (a list of none or one)",
    response_model=list[AccountOut],
)
async def find_accounts(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    email: Annotated[str, Query(max_length=320)],
) -> list[AccountOut]:
    try:
        address = parse_address(email)
    except ValueError as error:
        raise field_errors([{"field": "email", "message": str(error)}]) from None
    account = await runtime.accounts.admin.find(address)
    return [AccountOut(**account.as_json())] if account is not None else []


@router.get("/accounts/{account_id}", summary="One account", response_model=AccountOut)
async def get_account(
    account_id: Annotated[str, Path(max_length=36)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> AccountOut:
    account = await runtime.accounts.admin.get(account_id)
    if account is None:
        raise Problem(404, "No such account")
    return AccountOut(**account.as_json())


@router.delete(
    "/accounts/{account_id}",
    status_code=204,
    summary="Delete an account, its links and its mails' payloads (unsent mail is not sent)",
)
async def delete_account(
    account_id: Annotated[str, Path(max_length=36)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> None:
    if not await runtime.accounts.admin.delete(account_id):
        raise Problem(404, "No such account")
    ACCOUNT_CHANGES.labels("deleted").inc()
