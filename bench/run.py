"""regmail's benchmark harness: every figure from one run, on one machine.

    bench/run [--quick] [--json]

Starts what it needs on 127.0.0.1 (Postfix's smtp-sink, and PostgreSQL, RabbitMQ and Kafka
through scripts/services), runs the scenarios one after another, and writes
bench/results/<date>.json and .md. Each figure is the median of the repetitions.
See bench/README.md for what is measured and what is not yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher, Type
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.signup_latency import main as signup_probe
from regmail.settings import Settings
from tests.support.mailstate import count_mails, queue_mails
from tests.support.processes import settings_env, start_regmail
from tests.support.servers import PostgresServer, ServiceServer
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import free_port, wait_for_port

RESULTS = ROOT / "bench" / "results"


class Bench:
    def __init__(self, quick: bool, work: Path) -> None:
        self.quick = quick
        self.work = work
        self.repeats = 1 if quick else 3
        self.sink = SmtpSink(work)

    def settings(self, **values: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{self.work / f'regmail-{time.time_ns()}.db'}",
            "smtp_url": self.sink.url,
            "signups_per_ip_per_minute": 10**9,
            "mails_per_address_per_hour": 10**6,
            "resend_cooldown_seconds": 0,
            "log_level": "warning",
        }
        return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]

    def median(self, run: Any) -> Any:
        return statistics.median(run() for _ in range(self.repeats))

    # ---- 1 and 2: sign-up ----

    def signup_latency(self) -> dict[str, float]:
        self.sink.start("-w", "2")
        seconds = 8 if self.quick else 30
        regmail = self._regmail_signups(clients=8, seconds=seconds)
        sync = self._sync_signups(clients=8, seconds=seconds)
        return {
            "regmail_p50_ms": regmail["p50_ms"],
            "regmail_p99_ms": regmail["p99_ms"],
            "sync_p50_ms": sync["p50_ms"],
            "sync_p99_ms": sync["p99_ms"],
            "ratio_sync_p50_over_regmail_p50": round(sync["p50_ms"] / regmail["p50_ms"], 1),
        }

    def _regmail_signups(self, clients: int, seconds: float, **values: Any) -> dict[str, Any]:
        port = free_port()
        settings = self.settings(port=port, **values)
        log = self.work / "regmail.log"
        self._migrate(settings)
        processes = [
            start_regmail(settings, "serve", log=log, cwd=self.work),
            start_regmail(settings, "worker", log=log, cwd=self.work),
        ]
        try:
            wait_for_port(port, 30)
            return asyncio.run(signup_probe(f"http://127.0.0.1:{port}", clients, seconds))
        finally:
            _stop(processes)

    def _sync_signups(self, clients: int, seconds: float) -> dict[str, Any]:
        port = free_port()
        env = {
            **os.environ,
            "SYNC_APP_DB": str(self.work / f"sync-{time.time_ns()}.db"),
            "SYNC_APP_SMTP_PORT": str(self.sink.port),
        }
        # uvicorn's default threadpool (40 threads) serves the sync endpoint, as deployed.
        command = [sys.executable, "-m", "uvicorn", "bench.peers.sync_app:app", "--port",
                   str(port), "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env=env)
        try:
            wait_for_port(port, 30)
            return asyncio.run(signup_probe(f"http://127.0.0.1:{port}", clients, seconds))
        finally:
            _stop([process])

    def signup_throughput(self, postgres: PostgresServer) -> dict[str, float]:
        self.sink.start()
        seconds = 8 if self.quick else 20
        ceiling = hashing_ceiling(seconds)
        sqlite = self._saturate(seconds)
        url = asyncio.run(postgres.create_database())
        try:
            on_postgres = self._saturate(seconds, database_url=url)
        finally:
            asyncio.run(postgres.drop_database(url))
        return {
            "ceiling_per_s": round(ceiling, 1),
            "regmail_per_s": sqlite["per_s"],
            "regmail_postgres_per_s": on_postgres["per_s"],
            "healthz_p99_ms": max(sqlite["healthz_p99_ms"], on_postgres["healthz_p99_ms"]),
            "share_of_ceiling": round(sqlite["per_s"] / ceiling, 2),
        }

    def _saturate(self, seconds: float, **values: Any) -> dict[str, float]:
        port = free_port()
        settings = self.settings(port=port, **values)
        self._migrate(settings)
        process = start_regmail(settings, "serve", log=self.work / "serve.log", cwd=self.work)
        try:
            wait_for_port(port, 30)
            return asyncio.run(_load_with_health(f"http://127.0.0.1:{port}", 16, seconds))
        finally:
            _stop([process])

    # ---- 3, 4 and 6: delivery ----

    def delivery(self, servers: dict[str, ServiceServer | PostgresServer]) -> dict[str, Any]:
        self.sink.start()
        count = 2000 if self.quick else 20000
        results: dict[str, Any] = {}
        worker_cost: dict[str, float] = {}
        for broker in ("db-sqlite", "db-postgres", "rabbitmq", "kafka"):
            values = self._broker_values(broker, servers)
            rate, cost = self._deliver(count, worker_concurrency=50, **values)
            results[broker] = round(rate, 1)
            if broker == "db-sqlite":
                worker_cost = cost
            self._cleanup(values, servers)
        results["smtp_source"] = round(smtp_source(self.sink.port, count, sessions=50), 1)
        results["celery"] = None  # peers not built yet: bench/README.md
        results["dramatiq"] = None
        return {"delivery": results, "worker": worker_cost}

    def slow_scaling(self) -> dict[str, dict[str, float]]:
        self.sink.start("-w", "2")
        steps = [1, 10, 50] if self.quick else [1, 10, 50, 200]
        scaling: dict[str, float] = {}
        for concurrency in steps:
            count = concurrency * 3
            rate, _ = self._deliver(count, worker_concurrency=concurrency)
            scaling[str(concurrency)] = round(rate, 2)
        return {"db-sqlite": scaling}

    def _deliver(self, count: int, **values: Any) -> tuple[float, dict[str, float]]:
        """Queue `count` mails, start a worker (and a relay), time until all are sent."""
        settings = self.settings(**values)
        self._migrate(settings)
        asyncio.run(queue_mails(settings, count))
        log = self.work / "delivery.log"
        relay = None
        if settings.broker_url.get_secret_value() != "db":
            relay = start_regmail(settings, "relay", log=log, cwd=self.work)
        started = time.monotonic()
        worker = start_regmail(settings, "worker", log=log, cwd=self.work)
        try:
            asyncio.run(_until_sent(settings, count, limit_seconds=600))
            elapsed = time.monotonic() - started
            cost = _process_cost(worker.pid, count)
        finally:
            _stop([p for p in (worker, relay) if p is not None])
        return count / elapsed, cost

    def _broker_values(
        self, broker: str, servers: dict[str, ServiceServer | PostgresServer]
    ) -> dict[str, Any]:
        name = f"bench{time.time_ns()}"
        if broker == "db-sqlite":
            return {}
        if broker == "db-postgres":
            postgres = servers["postgres"]
            assert isinstance(postgres, PostgresServer)
            return {"database_url": asyncio.run(postgres.create_database())}
        if broker == "rabbitmq":
            return {"broker_url": servers["rabbitmq"].url, "rabbitmq_prefix": name}
        return {
            "broker_url": servers["kafka"].url,
            "kafka_topic": f"{name}.mail",
            "kafka_group": f"{name}-workers",
            "kafka_partitions": 4,
        }

    def _cleanup(self, values: dict[str, Any], servers: dict[str, Any]) -> None:
        if "database_url" in values:
            asyncio.run(servers["postgres"].drop_database(values["database_url"]))

    def _migrate(self, settings: Settings) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "regmail", "migrate"],
            env=settings_env(settings),
            cwd=self.work,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr)


# ---- measurements ----


def _hash_for(seconds: float) -> int:
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        hasher.hash("correct horse battery staple")
        n += 1
    return n


def hashing_ceiling(seconds: float) -> float:
    """argon2id hashes/s with regmail's parameters in a process pool over all cores."""
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores) as pool:
        return sum(pool.map(_hash_for, [seconds] * cores)) / seconds


async def _load_with_health(url: str, clients: int, seconds: float) -> dict[str, float]:
    health: list[float] = []

    async def probe_health(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await http.get("/healthz")
            health.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)  # 20 probes a second: a load balancer's view

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        deadline = time.monotonic() + seconds
        load = asyncio.create_task(signup_probe(url, clients, seconds))
        await probe_health(http, deadline)
        signups = await load
    return {"per_s": signups["per_s"], "healthz_p99_ms": round(_p99(health), 1)}


async def _until_sent(settings: Settings, count: int, limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while await count_mails(settings, "sent") < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} mails not sent within {limit_seconds} s")
        await asyncio.sleep(0.1)


def _process_cost(pid: int, mails_sent: int) -> dict[str, float]:
    """CPU seconds per 1,000 mails and peak RSS, read from /proc before the process ends."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return {
        "cpu_s_per_1000": round(cpu / mails_sent * 1000, 2),
        "peak_rss_mb": round(hwm_kb / 1024, 1),
    }


def smtp_source(port: int, count: int, sessions: int) -> float:
    """Postfix's C client: the same number of connections, each reused (-d)."""
    command = ["/usr/sbin/smtp-source", "-d", "-s", str(sessions), "-m", str(count),
               "-l", "2000", "-f", "no-reply@regmail.localhost", "-t", "bench@example.com",
               f"127.0.0.1:{port}"]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return count / (time.monotonic() - started)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else 0.0


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["scenarios"]
    lat, thr, dl, worker = s["signup_latency"], s["signup_throughput"], s["delivery"], s["worker"]
    rows = [
        ("1. sign-up p99, slow provider", f"{lat['regmail_p99_ms']} ms", "≤ 50 ms"),
        ("1. sync p50 / regmail p50", f"{lat['ratio_sync_p50_over_regmail_p50']}×", "≥ 40×"),
        ("2. sign-ups/s vs hashing ceiling", f"{thr['regmail_per_s']} / {thr['ceiling_per_s']} "
         f"({thr['share_of_ceiling']:.0%})", "≥ 85 %"),
        ("2. sign-ups/s on PostgreSQL", f"{thr['regmail_postgres_per_s']}", "≥ 85 % of ceiling"),
        ("2. /healthz p99 under load", f"{thr['healthz_p99_ms']} ms", "≤ 20 ms"),
        *[(f"3. delivery, {b} (mails/s)", f"{dl[b]}", "≥ 20 % of smtp-source")
          for b in ("db-sqlite", "db-postgres", "rabbitmq", "kafka")],
        ("3. smtp-source (C reference)", f"{dl['smtp_source']}", "—"),
        ("4. 2 s/mail, concurrency → mails/s",
         ", ".join(f"{c}→{r}" for c, r in s["slow_scaling"]["db-sqlite"].items()),
         "≥ 90 % of concurrency ÷ 2"),
        ("6. worker CPU s / 1000 mails", f"{worker['cpu_s_per_1000']}", "—"),
        ("6. worker peak RSS", f"{worker['peak_rss_mb']} MB", "≤ 150 MB"),
    ]  # fmt: skip
    lines = ["| scenario | measured | bar |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="regmail benchmarks")
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    servers: dict[str, Any] = {
        "postgres": PostgresServer.find(),
        "rabbitmq": ServiceServer.find_or_start("rabbitmq"),
        "kafka": ServiceServer.find_or_start("kafka"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.quick, Path(tmp))
        scenarios: dict[str, Any] = {}
        steps = [
            ("signup_latency", bench.signup_latency),
            ("signup_throughput", lambda: bench.signup_throughput(servers["postgres"])),
            ("delivery", lambda: bench.delivery(servers)),
            ("slow_scaling", bench.slow_scaling),
        ]
        with Progress(disable=args.json) as progress:
            task = progress.add_task("benchmarks", total=len(steps))
            for name, run in steps:
                progress.update(task, description=name)
                outcome = run()
                if name == "delivery":
                    scenarios.update(outcome)
                else:
                    scenarios[name] = outcome
                progress.advance(task)
        bench.sink.stop()
    scenarios["end_to_end"] = None  # not measured yet: bench/README.md
    result = {"machine": machine(), "quick": args.quick, "scenarios": scenarios}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(result))
    print(json.dumps(result) if args.json else markdown(result))


if __name__ == "__main__":
    main()
