"""The Celery + RabbitMQ peer: one task per activation mail (bench/README.md).

Settings a Celery user would pick for this job: late acks (a killed worker's mail is
redelivered), no result backend, retries with backoff for transient SMTP errors.
Worker: celery -A bench.peers.celery_app worker (options in bench/run.py).
"""

from __future__ import annotations

from celery import Celery

from bench.peers import mailer

app = Celery("regmail_peer", broker=mailer.BROKER_URL)
app.conf.update(
    task_default_queue=mailer.QUEUE,
    task_acks_late=True,
    task_ignore_result=True,
    task_serializer="json",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(
    autoretry_for=mailer.TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=None,
)
def send_activation(mail_id: str, recipient: str, token: str, locale: str) -> None:
    mailer.send_activation(mail_id, recipient, token, locale)
