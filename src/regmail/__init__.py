"""regmail: sign-up with email activation, delivered through a transactional outbox."""

__version__ = "0.1.0"
