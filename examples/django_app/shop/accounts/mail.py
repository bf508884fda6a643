"""The shop's kind of mail, delivered by `regmail worker --kinds shop.accounts.mail:KINDS`."""

from pathlib import Path

from jinja2 import FileSystemLoader
from pydantic import BaseModel, ConfigDict

from regmail.mailer import Kind


class Welcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    link: str  # holds the activation token: sealed in the database, emptied once sent


KINDS = [
    Kind(
        "shop_welcome",
        FileSystemLoader(Path(__file__).with_name("mail_templates")),
        Welcome,
        locales=("en",),
        secret=True,
    )
]
