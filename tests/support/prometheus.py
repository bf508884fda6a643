"""A real Prometheus server (Debian's package) scraping regmail processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.waiting import eventually, free_port

PROMETHEUS = "/usr/bin/prometheus"


class Prometheus:
    """One Prometheus process scraping /metrics of `targets` (job → ports on 127.0.0.1)
    every `scrape_seconds`; its data lives in `directory` and goes with it."""

    def __init__(self, directory: Path, targets: dict[str, list[int]], scrape_seconds: int) -> None:
        if not os.access(PROMETHEUS, os.X_OK):
            raise RuntimeError("prometheus missing: scripts/test installs Debian's prometheus")
        self.scrape_seconds = scrape_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._directory = directory
        self._targets = targets
        self._process: subprocess.Popen[bytes] | None = None
        self.log = directory / "prometheus.log"

    async def start(self) -> None:
        config = self._directory / "prometheus.yml"
        config.write_text(self._config())
        self._process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self._directory / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )
        await eventually(self._ready, timeout=60, interval=0.2)

    async def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=30)
            self._process = None

    async def all_targets_up(self) -> bool:
        async with httpx.AsyncClient(base_url=self.url) as http:
            active = (await http.get("/api/v1/targets")).json()["data"]["activeTargets"]
        wanted = sum(len(ports) for ports in self._targets.values())
        return len(active) == wanted and all(t["health"] == "up" for t in active)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        """The series of a PromQL range query; a query Prometheus refuses raises, naming it."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            answer = (await http.get("/api/v1/query_range", params=params)).json()
        if answer["status"] != "success":
            raise ValueError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
        return list(answer["data"]["result"])

    async def recent_values(self, expr: str, seconds: float) -> list[float]:
        """Every value of `expr` over the last `seconds`, a second apart, all series."""
        now = time.time()
        series = await self.query_range(expr, now - seconds, now, 1)
        return [float(v) for s in series for _, v in s["values"]]

    def _config(self) -> str:
        lines = [
            "global:",
            f"  scrape_interval: {self.scrape_seconds}s",
            f"  scrape_timeout: {self.scrape_seconds}s",
            "scrape_configs:",
        ]
        for job, ports in self._targets.items():
            lines += [f"  - job_name: {job}", "    static_configs:", "      - targets:"]
            lines += [f"          - 127.0.0.1:{port}" for port in ports]
        return "\n".join(lines) + "\n"

    async def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            async with httpx.AsyncClient(base_url=self.url) as http:
                return (await http.get("/-/ready")).status_code == 200
        except httpx.TransportError:
            return False
