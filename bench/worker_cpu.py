"""CPU time of one worker per mail, in process: a number that moves little with the
machine's other load (bench/run's scenario 6 measures whole worker processes).

    .venv/bin/python bench/worker_cpu.py [--mails 3000] [--repeat 3]
        [--concurrency 50] [--connections N]

Queues `--mails` activation mails on a fresh SQLite database, starts Postfix's smtp-sink,
runs the worker role (roles.py, `--concurrency` mails in flight, `--connections` SMTP
connections: unset, one a mail in flight) in this process until every mail is sent,
and prints the process's CPU seconds per mail (time.process_time: the worker, the
database driver's thread and the event loop), the median of `--repeat` runs. The worker
logs as in production (JSON lines), to /dev/null.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from regmail import roles
from regmail.eventloop import run_event_loop
from regmail.logs import configure_logging
from regmail.runtime import Runtime
from tests.support.mailstate import none_unsent, queue_mails
from tests.support.service import make_settings
from tests.support.waiting import eventually, free_port, wait_for_port

SMTP_SINK = "/usr/sbin/smtp-sink"


async def cpu_per_mail(work: Path, smtp_port: int, mails: int, pool: dict[str, int]) -> float:
    settings = make_settings(work, smtp_url=f"smtp://127.0.0.1:{smtp_port}", **pool)
    await queue_mails(settings, mails)
    runtime = Runtime.build(settings)
    try:
        started = time.process_time()
        async with roles.running(runtime, {roles.Role.WORKER}):
            await eventually(lambda: none_unsent(settings), timeout=600, interval=0.2)
            spent = time.process_time() - started
    finally:
        await runtime.close()
    return spent / mails


def one_run(mails: int, pool: dict[str, int]) -> float:
    port = free_port()
    sink = subprocess.Popen(
        [SMTP_SINK, "-u", "root", "-c", f"127.0.0.1:{port}", "500"], stdout=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory() as work:
            return run_event_loop(cpu_per_mail(Path(work), port, mails, pool))
    finally:
        sink.terminate()
        sink.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--connections", type=int, default=None)
    args = parser.parse_args()
    pool = {"worker_concurrency": args.concurrency}
    if args.connections is not None:
        pool["smtp_connections"] = args.connections
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    configure_logging("info", json=True)
    runs = [one_run(args.mails, pool) for _ in range(args.repeat)]
    shown = ", ".join(f"{r * 1000:.2f}" for r in runs)
    print(f"{statistics.median(runs) * 1000:.2f} ms CPU per mail (median; runs: {shown})")


if __name__ == "__main__":
    main()
