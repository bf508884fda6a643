"""Postfix's smtp-sink as a real SMTP server for fault and load tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections import Counter
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from tests.support.waiting import free_port, wait_for_port

SMTP_SINK = "/usr/sbin/smtp-sink"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


class SmtpSink:
    """One smtp-sink process; `restart` changes its behaviour and keeps port and dump."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        if not os.access(SMTP_SINK, os.X_OK):
            raise RuntimeError("smtp-sink missing: scripts/test installs Debian's postfix")
        self.port = port or free_port()
        self._directory = directory
        self._starts = 0
        self.dump = directory / f"sink-{self.port}-0.dump"
        self._process: subprocess.Popen[bytes] | None = None
        self._tally: tuple[Path, int, int] = (self.dump, 0, 0)  # dump, bytes read, messages

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, *options: str) -> SmtpSink:
        """Start with smtp-sink options, e.g. ("-r", "RCPT") or ("-w", "2").

        Each start dumps to a new file: smtp-sink dumps a message even when it then
        rejects it at ".", so only a phase where it accepts counts as delivered.
        """
        self.stop()
        self._starts += 1
        self.dump = self._directory / f"sink-{self.port}-{self._starts}.dump"
        # As root, smtp-sink insists on -u; the dump lives in a root-owned test directory.
        user = ["-u", "root"] if os.geteuid() == 0 else []
        command = [
            SMTP_SINK,
            *user,
            "-D",
            str(self.dump),
            *options,
            f"127.0.0.1:{self.port}",
            "256",
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    restart = start

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=10)
            self._process = None

    def received(self) -> int:
        """How many messages reached the sink since the last (re)start.

        Cheap enough to poll during a benchmark: each call reads only what was appended
        since the last one, up to its last complete line.
        """
        if self._tally[0] != self.dump:
            self._tally = (self.dump, 0, 0)
        if not self.dump.exists():
            return 0
        _, offset, count = self._tally
        with self.dump.open("rb") as dump:
            dump.seek(offset)
            appended = dump.read()
        complete = appended.rfind(b"\n") + 1
        count += appended[:complete].count(b"Message-ID:")
        self._tally = (self.dump, offset + complete, count)
        return count

    def messages(self) -> list[EmailMessage]:
        """The messages that reached the sink since the last (re)start, parsed."""
        if not self.dump.exists():
            return []
        # smtp-sink starts each message's record with the client's address.
        records = re.split(rb"^(?=X-Client-Addr: )", self.dump.read_bytes(), flags=re.MULTILINE)
        parsed = (message_from_bytes(r, policy=default) for r in records if r.strip())
        return [m for m in parsed if isinstance(m, EmailMessage)]

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID reached the sink since the last (re)start."""
        if not self.dump.exists():
            return Counter()
        return Counter(m.decode() for m in MESSAGE_ID.findall(self.dump.read_bytes()))
