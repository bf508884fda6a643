"""The Dramatiq + RabbitMQ peer: one actor message per activation mail (bench/README.md).

Dramatiq acks after the actor returns and retries failures with exponential backoff by
default; transient SMTP errors are the ones retried. Worker: dramatiq
bench.peers.dramatiq_app (options in bench/run.py).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from bench.peers import mailer

dramatiq.set_broker(RabbitmqBroker(url=mailer.BROKER_URL))


@dramatiq.actor(
    queue_name=mailer.QUEUE,
    retry_when=lambda _retries, error: isinstance(error, mailer.TRANSIENT),
)
def send_activation(mail_id: str, recipient: str, token: str, locale: str) -> None:
    mailer.send_activation(mail_id, recipient, token, locale)
