"""Prometheus metrics of this process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SIGNUPS = Counter("regmail_signups_total", "Sign-up requests accepted (202)")
ACTIVATIONS = Counter("regmail_activations_total", "Activation attempts by outcome", ["outcome"])
MAILS = Counter("regmail_mails_total", "Delivery attempts by outcome", ["outcome"])
SMTP_SECONDS = Histogram("regmail_smtp_send_seconds", "Time of one SMTP transaction")
