"""Mails a second over ONE SMTP connection when the server is a round trip away (issue 20):
regmail's SMTP pool, Python's smtplib (what Celery's and Dramatiq's mailers and Django use)
and Postfix's smtp-source (C), each through tests/support/delay_proxy.py to Postfix's smtp-sink,
beside the ideal of one mail per round trip.

    .venv/bin/python bench/round_trip.py [--rtt-ms 20] [--mails 100] [--repeat 3]

A client that waits for each reply (MAIL, RCPT, DATA, end of data) pays four round trips
a mail; one that pipelines (RFC 2920) can pay one.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from regmail.mail.smtp import SmtpPool
from regmail.smtp_url import parse_smtp_url
from tests.support.delay_proxy import delay_proxy
from tests.support.smtp_sink import SmtpSink

MESSAGE = (
    b"From: bench@example.com\r\nTo: user@example.com\r\nSubject: round trip\r\n\r\n"
    + b"x" * 1000
    + b"\r\n"
)


async def regmail_pool(port: int, mails: int, senders: int = 10) -> float:
    """regmail's pool held to one connection, `senders` mails in flight as a worker keeps
    them: with PIPELINING the next mail's commands ride on this one's last packet."""
    pool = SmtpPool(parse_smtp_url(f"smtp://127.0.0.1:{port}"), 1, 30.0, 10.0)
    queue = list(range(mails))

    async def sender() -> None:
        while queue:
            queue.pop()
            await pool.send("bench@example.com", "user@example.com", MESSAGE)

    try:
        await pool.send("bench@example.com", "user@example.com", MESSAGE)  # connected
        start = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return mails / (time.perf_counter() - start)
    finally:
        await pool.close()


def smtplib_connection(port: int, mails: int) -> float:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        start = time.perf_counter()
        for _ in range(mails):
            client.sendmail("bench@example.com", ["user@example.com"], MESSAGE)
        return mails / (time.perf_counter() - start)


def smtp_source(port: int, mails: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-d", "-s", "1", "-m", str(mails), "-l", "1000", f"127.0.0.1:{port}"],
        check=True,
    )
    return mails / (time.perf_counter() - start)  # includes one connect and greeting


async def measure(rtt: float, mails: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sink = SmtpSink(Path(tmp)).start()
        try:
            async with delay_proxy(sink.port, rtt) as proxy:
                port = proxy.port
                return {
                    "regmail (SMTP pool)": await regmail_pool(port, mails),
                    "smtplib": await asyncio.to_thread(smtplib_connection, port, mails),
                    "smtp-source (C)": await asyncio.to_thread(smtp_source, port, mails),
                }
        finally:
            sink.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--mails", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rtt = args.rtt_ms / 1000
    runs = [await measure(rtt, args.mails) for _ in range(args.repeat)]
    print(
        f"one connection, {args.rtt_ms:g} ms round trip, {args.mails} mails, median of "
        f"{args.repeat}:"
    )
    for client in runs[0]:
        rate = statistics.median(run[client] for run in runs)
        print(f"  {client:<28} {rate:6.1f} mails/s  ({rate * rtt:.2f} mails per round trip)")
    print(f"  {'ideal (1 per round trip)':<28} {1 / rtt:6.1f} mails/s")


if __name__ == "__main__":
    asyncio.run(main())
