"""Queue N activation mails on a peer: python -m bench.peers.enqueue celery|dramatiq N."""

from __future__ import annotations

import sys
import uuid


def main() -> None:
    peer, count = sys.argv[1], int(sys.argv[2])
    if peer == "celery":
        from bench.peers.celery_app import send_activation as celery_task

        for i in range(count):
            celery_task.delay(str(uuid.uuid4()), f"user{i}@example.com", "t", "en")
    else:
        from bench.peers.dramatiq_app import send_activation as dramatiq_actor

        for i in range(count):
            dramatiq_actor.send(str(uuid.uuid4()), f"user{i}@example.com", "t", "en")


if __name__ == "__main__":
    main()
