"""An application's own kinds of mail, registered as an application would register them
(REGMAIL_KINDS=["tests.support.app_kinds:KINDS"]), with templates of its own."""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader
from pydantic import BaseModel, ConfigDict

from regmail.mails.kinds import Kind, Site
from regmail.mails.retry import RetryPolicy

TEMPLATES = FileSystemLoader(Path(__file__).with_name("app_templates"))


class OrderShipped(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: str
    items: int


def _tracking(context: OrderShipped, site: Site, locale: str) -> dict[str, str]:
    return {"tracking": site.link("/orders", id=context.order)}


ORDER_SHIPPED = Kind(
    "order_shipped",
    TEMPLATES,
    OrderShipped,
    locales=("en",),
    variables=_tracking,
    retry=RetryPolicy(max_attempts=1),  # a shipping notice is not worth a second try
)

KINDS = (ORDER_SHIPPED,)
