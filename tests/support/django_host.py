"""A Django process that queues one mail with its own change, as a Django view would:
`python -m tests.support.django_host DATABASE_URL EMAIL commit|rollback`; prints the mail's
id (or nothing). REGMAIL_* settings come from the environment."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import django
from django.conf import settings


def _database(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path.removeprefix("/")}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.removeprefix("/"),
        "USER": parts.username,
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname,
        "PORT": str(parts.port),
    }


class RolledBack(Exception):
    pass


def main(url: str, email: str, outcome: str) -> None:
    settings.configure(DATABASES={"default": _database(url)}, USE_TZ=True)
    django.setup()
    from django.db import connection, transaction

    from regmail.mailer import Mailer

    mailer = Mailer()
    mail_id = None
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO app_users (email) VALUES (%s)", [email])
            mail_id = mailer.queue(connection, "order_shipped", email, {"order": "A1", "items": 2})
            if outcome == "rollback":
                raise RolledBack
    except RolledBack:
        return
    print(mail_id)


if __name__ == "__main__":
    main(*sys.argv[1:4])
