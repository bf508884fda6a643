"""regmail inside your application: queue a mail in your own database transaction, and let
`regmail worker` deliver it (retries, dead letters, brokers and metrics as for regmail's own).

    from regmail.mailer import Mailer

    mailer = Mailer()  # REGMAIL_* settings: the secret key, REGMAIL_KINDS
    with transaction.atomic():                      # Django; or a SQLAlchemy Session,
        user = User.objects.create(email=email)     # Connection, AsyncSession (queue_async),
        mailer.queue(connection, "welcome", email,  # a sqlite3 or psycopg connection
                     {"name": user.first_name})

If the transaction rolls back, no mail exists; once it commits, the mail will be delivered.
"""

from regmail.mailer.mailer import Mailer, NotInTransaction
from regmail.mails.kinds import InvalidMail, Kind

__all__ = ["InvalidMail", "Kind", "Mailer", "NotInTransaction"]
