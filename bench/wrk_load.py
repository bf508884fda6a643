"""Saturating sign-up load from wrk (C, from Debian's packages) with bench/signups.lua:
the load costs the 2 cores the API shares with it far less than a Python client does
(2.0-2.4 ms of CPU a sign-up with httpx; wrk's is reported beside it)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

LUA = Path(__file__).with_name("signups.lua")


def saturate(url: str, connections: int, seconds: float) -> dict[str, float]:
    """`connections` back-to-back sign-up loops for `seconds`: sign-ups/s, answers that were
    not 2xx (each one a failed sign-up) and the CPU seconds wrk itself spent."""
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "30s", "-s", str(LUA), url]  # fmt: skip
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {text}")
    figures = json.loads(text.strip().splitlines()[-1])
    requests = figures["requests"]
    failed = figures["not_2xx"] + figures["socket_errors"]
    return {
        "per_s": round((requests - failed) / (figures["duration_us"] / 1e6), 1),
        "failed": failed,
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
    }
