"""regmail's benchmark harness: every figure from one run, on one machine.

    bench/run [--quick] [--json]

Starts what it needs on 127.0.0.1 (Postfix's smtp-sink, and PostgreSQL, RabbitMQ and Kafka
through scripts/services), runs the scenarios one after another, and writes
bench/results/<date>.json and .md (<date>-<HHMM> for a day's second run). Each figure is
the median of the repetitions.
See bench/README.md for what is measured and what is not yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher, Type
from rich.progress import Progress
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk_load
from bench.report import BROKERS, markdown, plots, results_stem
from bench.signup_latency import steady
from regmail.db.engine import create_engine
from regmail.db.tables import mails
from regmail.mails.sealing import new_key
from regmail.mails.status import MailStatus
from regmail.runtime import migrate_all
from regmail.settings import Settings
from tests.support.delay_proxy import Proxy, delay_proxy
from tests.support.mailstate import count_mails, count_outbox, queue_mails
from tests.support.processes import start_regmail
from tests.support.servers import PostgresServer, ServiceServer
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import free_port, wait_for_port

RESULTS = ROOT / "bench" / "results"
CORES = os.cpu_count() or 1
# Loads are set from the hashing ceiling measured in the same run (this machine's speed
# varies ~1.6x between days): sign-up latency at half of it, end to end at 40 % of it, so a
# slower day does not turn either into a saturation test (issue 20).
LATENCY_SHARE = 0.5
E2E_SHARE = 0.4
# Scenario 3: 50 SMTP connections in all, as the peers' 50 threads. A peer's thread holds
# one mail at a time; a regmail worker keeps more in flight than it has connections (two
# ride one connection with PIPELINING, the others are being claimed or recorded).
CONNECTIONS = 50
IN_FLIGHT_PER_CONNECTION = 8
ROUND_TRIP = 0.020  # between worker and provider in the pipelining scenario
# Each peer as its docs recommend, tried against the alternatives on this machine: Celery's
# default prefork pool, a process per core (faster here than --pool threads with 50 threads
# or prefork with 8); Dramatiq's process per core with threads, 50 connections in all.
PEER_WORKERS = {
    "celery": [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker",
               "--pool", "prefork", "--concurrency", str(CORES), "--loglevel", "warning",
               "--without-gossip", "--without-mingle", "--without-heartbeat"],
    "dramatiq": [sys.executable, "-m", "dramatiq", "bench.peers.dramatiq_app",
                 "--processes", str(CORES), "--threads", str(50 // CORES)],
}  # fmt: skip
# Each peer held to one SMTP connection: one process with one thread (its mailer keeps a
# connection per thread).
PEER_ONE_CONNECTION = {
    "celery": [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker",
               "--pool", "solo", "--loglevel", "warning",
               "--without-gossip", "--without-mingle", "--without-heartbeat"],
    "dramatiq": [sys.executable, "-m", "dramatiq", "bench.peers.dramatiq_app",
                 "--processes", "1", "--threads", "1"],
}  # fmt: skip


class Bench:
    def __init__(self, quick: bool, work: Path) -> None:
        self.quick = quick
        self.work = work
        self.repeats = 1 if quick else 3
        self.sink = SmtpSink(work)
        self.secret_key = new_key()  # one key for every process of the run
        self._ceiling: float | None = None

    def ceiling(self) -> float:
        """argon2id hashes/s over all cores, measured once a run: what loads are set from."""
        if self._ceiling is None:
            seconds = 5 if self.quick else 20
            self._ceiling = round(self.median(hashing_ceiling, seconds)["per_s"], 1)
        return self._ceiling

    def settings(self, **values: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{self.work / f'regmail-{time.time_ns()}.db'}",
            "smtp_url": self.sink.url,
            "signups_per_ip_per_minute": 10**9,
            "mails_per_address_per_hour": 10**6,
            "resend_cooldown_seconds": 0,
            "log_level": "warning",
            "secret_key": self.secret_key,
        }
        return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]

    def median(self, run: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
        """Each figure of `run(*args)` as the median of the repetitions."""
        return median_of([run(*args) for _ in range(self.repeats)])

    # ---- 1 and 2: sign-up ----

    def signup_latency(self) -> dict[str, float]:
        """Open-loop sign-ups at half the hashing ceiling, regmail and the inline peer at the
        same rate, the provider taking 2 s a mail."""
        rate = round(self.ceiling() * LATENCY_SHARE, 1)
        self.sink.start("-w", "2")
        seconds = 5 if self.quick else 30
        regmail = self.median(self._regmail_signups, rate, seconds)
        sync = self.median(self._sync_signups, rate, seconds)
        return {
            "offered_per_s": rate,
            "regmail_p50_ms": regmail["p50_ms"],
            "regmail_p99_ms": regmail["p99_ms"],
            "sync_p50_ms": sync["p50_ms"],
            "sync_p99_ms": sync["p99_ms"],
            "ratio_sync_p50_over_regmail_p50": round(sync["p50_ms"] / regmail["p50_ms"], 1),
            "regmail_errors": regmail["errors"],
            "sync_errors": sync["errors"],
        }

    def _regmail_signups(self, rate: float, seconds: float, **values: Any) -> dict[str, float]:
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
            return asyncio.run(steady(f"http://127.0.0.1:{port}", rate, seconds))
        finally:
            _stop(processes)

    def _sync_signups(self, rate: float, seconds: float) -> dict[str, float]:
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
            return asyncio.run(steady(f"http://127.0.0.1:{port}", rate, seconds))
        finally:
            _stop([process])

    def signup_throughput(self, postgres: PostgresServer) -> dict[str, float]:
        self.sink.start()
        seconds = 5 if self.quick else 20
        sqlite = self.median(self._beside_ceiling, seconds)
        url = asyncio.run(postgres.create_database())
        try:
            on_postgres = self.median(partial(self._beside_ceiling, database_url=url), seconds)
        finally:
            asyncio.run(postgres.drop_database(url))
        return {
            "ceiling_per_s": round(sqlite["ceiling_per_s"], 1),
            "postgres_ceiling_per_s": round(on_postgres["ceiling_per_s"], 1),
            "regmail_per_s": sqlite["per_s"],
            "regmail_postgres_per_s": on_postgres["per_s"],
            "healthz_p99_ms": max(sqlite["healthz_p99_ms"], on_postgres["healthz_p99_ms"]),
            "share_of_ceiling": round(sqlite["share"], 3),
            "postgres_share_of_ceiling": round(on_postgres["share"], 3),
            "hash_cpu_ms": round(sqlite["hash_cpu_ms"], 1),
            "api_cpu_ms_per_signup": round(sqlite["api_cpu_ms_per_signup"], 1),
            "api_cpu_over_hash": round(sqlite["api_cpu_over_hash"], 3),
            "client_cpu_ms_per_signup": round(sqlite["client_cpu_ms_per_signup"], 1),
        }

    def _beside_ceiling(self, seconds: float, **values: Any) -> dict[str, float]:
        """A saturation and the hashing ceiling measured just before it. This machine's
        speed drifts by a tenth within minutes (a sign-up probe read 57.9 then 68.3/s
        against one ceiling, 2026-12-06): a ratio of two moments far apart measures the
        drift, a ratio of neighbours the API."""
        ceiling = hashing_ceiling(seconds)["per_s"]
        load = self._saturate(seconds, **values)
        hash_cpu_ms = CORES / ceiling * 1000
        return {
            **load,
            "ceiling_per_s": ceiling,
            "share": load["per_s"] / ceiling,
            "hash_cpu_ms": hash_cpu_ms,
            "api_cpu_over_hash": load["api_cpu_ms_per_signup"] / hash_cpu_ms,
        }

    def _saturate(self, seconds: float, **values: Any) -> dict[str, float]:
        port = free_port()
        settings = self.settings(port=port, **values)
        self._migrate(settings)
        process = start_regmail(settings, "serve", log=self.work / "serve.log", cwd=self.work)
        try:
            wait_for_port(port, 30)
            # Where the 2 cores go: the API process (hashing included) and the load (wrk).
            api = _cpu_seconds(process.pid)
            load = asyncio.run(_load_with_health(f"http://127.0.0.1:{port}", 16, seconds))
            signups = load["per_s"] * seconds
            load["api_cpu_ms_per_signup"] = (_cpu_seconds(process.pid) - api) / signups * 1000
            load["client_cpu_ms_per_signup"] = load.pop("client_cpu_s") / signups * 1000
            return load
        finally:
            _stop([process])

    # ---- 3, 4 and 6: delivery ----

    def delivery(self, servers: dict[str, ServiceServer | PostgresServer]) -> dict[str, Any]:
        self.sink.start()
        count = 10000 if self.quick else 20000
        rates: dict[str, float] = {}
        relay: dict[str, float] = {}
        worker: dict[str, float] = {}
        for broker in BROKERS:
            # SQLite has one writer: one worker process, as the README advises.
            workers = 1 if broker == "db-sqlite" else CORES
            connections = CONNECTIONS // workers
            deliver = partial(
                self._deliver, count, workers, smtp_connections=connections,
                worker_concurrency=connections * IN_FLIGHT_PER_CONNECTION,
            )  # fmt: skip
            figures = self.median(self._on, broker, servers, deliver)
            rates[broker] = round(figures.pop("mails_per_s"), 1)
            if "relay_per_s" in figures:
                relay[broker] = round(figures.pop("relay_per_s"), 1)
            if broker == "db-sqlite":
                worker = figures
        smtp = self.median(smtp_source, self.sink.port, count, 50)
        rates["smtp_source"] = round(smtp["per_s"], 1)
        for peer in PEER_WORKERS:
            peer_rate = self.median(self._deliver_peer, peer, count, servers["rabbitmq"])
            rates[peer] = round(peer_rate["mails_per_s"], 1)
        return {"delivery": rates, "relay": relay, "worker": worker}

    def slow_scaling(self, servers: dict[str, Any]) -> dict[str, dict[str, float]]:
        """2 s a mail: mails/s at each worker concurrency, per broker (Kafka on 1 partition)."""
        self.sink.start("-w", "2")
        steps = [10, 50] if self.quick else [1, 10, 50, 200]
        results: dict[str, dict[str, float]] = {}
        for broker in BROKERS:
            results[broker] = {}
            for concurrency in steps:
                # Three rounds of 2 s; the rate is timed from the first receipt on.
                deliver = partial(self._deliver, concurrency * 3, worker_concurrency=concurrency)
                figures = self.median(self._on, broker, servers, deliver, 1)
                results[broker][str(concurrency)] = round(figures["mails_per_s"], 2)
        return results

    def _deliver(self, count: int, workers: int = 1, **values: Any) -> dict[str, float]:
        """Queue `count` mails, start workers (and a relay); mails/s at the sink, and costs."""
        settings = self.settings(**values)
        self._migrate(settings)
        asyncio.run(queue_mails(settings, count))
        log = self.work / "delivery.log"
        relay, figures = None, {}
        if settings.broker_url.get_secret_value() != "db":
            relay = start_regmail(settings, "relay", log=log, cwd=self.work)
            # As with the peers, the broker's queue is full before the workers start;
            # the relay's own rate is reported beside it.
            figures["relay_per_s"] = _relay_rate(settings, count)
        received = self.sink.received()
        started = [
            start_regmail(settings, "worker", log=log, cwd=self.work) for _ in range(workers)
        ]
        try:
            pids = [p.pid for p in started]
            window = _receipt_window(self.sink, received, count, pids)
            figures["mails_per_s"] = window.mails_per_s
            figures.update(_process_cost(pids, window))
        finally:
            _stop([p for p in (*started, relay) if p is not None])
        return figures

    def _deliver_peer(
        self,
        peer: str,
        count: int,
        rabbitmq: ServiceServer,
        smtp_port: int | None = None,
        command: list[str] | None = None,
    ) -> dict[str, float]:
        """Queue `count` mails on a peer over RabbitMQ, start its workers; mails/s at the sink."""
        env = {
            **os.environ,
            "PEER_BROKER_URL": rabbitmq.url,
            "PEER_QUEUE": f"bench-{peer}-{time.time_ns()}",
            "PEER_SMTP_PORT": str(smtp_port or self.sink.port),
        }
        enqueue = [sys.executable, "-m", "bench.peers.enqueue", peer, str(count)]
        subprocess.run(enqueue, cwd=ROOT, env=env, check=True)
        received = self.sink.received()
        quiet = subprocess.DEVNULL
        process = subprocess.Popen(
            command or PEER_WORKERS[peer], cwd=ROOT, env=env, stdout=quiet, stderr=quiet
        )
        try:
            return {"mails_per_s": _receipt_window(self.sink, received, count).mails_per_s}
        finally:
            _stop([process])

    # ---- 4: one connection a round trip away ----

    def pipelining(self, servers: dict[str, Any]) -> dict[str, float]:
        """Mails/s over ONE SMTP connection to a provider 20 ms away (tests/support/
        delay_proxy.py in front of smtp-sink): a regmail worker (REGMAIL_SMTP_CONNECTIONS=1,
        10 mails in flight), each peer's worker with one thread, smtp-source -s 1."""
        self.sink.start()
        count = 150 if self.quick else 400
        with proxy_in_thread(self.sink.port, ROUND_TRIP) as proxy:
            deliver = partial(
                self._deliver, count, smtp_url=f"smtp://127.0.0.1:{proxy.port}",
                smtp_connections=1, worker_concurrency=10,
            )  # fmt: skip
            regmail = self.median(deliver)
            peers = {
                peer: self.median(
                    self._deliver_peer, peer, count // 3, servers["rabbitmq"], proxy.port,
                    PEER_ONE_CONNECTION[peer],
                )["mails_per_s"]
                for peer in PEER_ONE_CONNECTION
            }  # fmt: skip
            source = self.median(smtp_source, proxy.port, count // 3, 1)
        return {
            "rtt_ms": ROUND_TRIP * 1000,
            "ideal_per_s": round(1 / ROUND_TRIP, 1),
            "regmail_per_conn_s": round(regmail["mails_per_s"], 1),
            "celery_per_conn_s": round(peers["celery"], 1),
            "dramatiq_per_conn_s": round(peers["dramatiq"], 1),
            "smtp_source_per_conn_s": round(source["per_s"], 1),
        }

    # ---- 5: end to end ----

    def end_to_end(self, servers: dict[str, Any]) -> dict[str, dict[str, float]]:
        """Sign-ups at 40 % of the hashing ceiling; from the sign-up's commit to the mail sent."""
        rate = round(self.ceiling() * E2E_SHARE, 1)
        self.sink.start()
        seconds = 4 if self.quick else 20
        results: dict[str, dict[str, float]] = {}
        for broker in BROKERS:
            run = partial(self._end_to_end, rate, seconds)
            results[broker] = self.median(self._on, broker, servers, run)
        return results

    def _end_to_end(self, rate: float, seconds: float, **values: Any) -> dict[str, float]:
        port = free_port()
        settings = self.settings(port=port, **values)
        self._migrate(settings)
        log = self.work / "e2e.log"
        processes = [
            start_regmail(settings, "serve", log=log, cwd=self.work),  # relays in-process
            start_regmail(settings, "worker", log=log, cwd=self.work),
        ]
        try:
            wait_for_port(port, 30)
            load = asyncio.run(steady(f"http://127.0.0.1:{port}", rate, seconds))
            asyncio.run(_until_all_sent(settings, int(load["accepted"])))
            delays = asyncio.run(_commit_to_sent_ms(settings))
        finally:
            _stop(processes)
        return {
            "rate_per_s": rate,
            "achieved_per_s": load["achieved_per_s"],
            "p50_ms": round(statistics.median(delays), 1),
            "p95_ms": round(statistics.quantiles(delays, n=20, method="inclusive")[18], 1),
        }

    def _on(
        self,
        broker: str,
        servers: dict[str, Any],
        run: Callable[..., dict[str, float]],
        kafka_partitions: int = 4,
    ) -> dict[str, float]:
        """`run(**settings)` on a fresh database, queue or topic of `broker`, removed after."""
        values = self._broker_values(broker, servers, kafka_partitions)
        try:
            return run(**values)
        finally:
            self._cleanup(values, servers)

    def _broker_values(
        self, broker: str, servers: dict[str, Any], kafka_partitions: int = 4
    ) -> dict[str, Any]:
        name = f"bench{time.time_ns()}"
        if broker == "db-sqlite":
            return {}
        # A broker is for scale, beside PostgreSQL (docs/deploy.md): SQLite's one writer
        # would be shared by the API, the relay and every worker.
        postgres = servers["postgres"]
        assert isinstance(postgres, PostgresServer)
        database = {"database_url": asyncio.run(postgres.create_database())}
        if broker == "db-postgres":
            return database
        if broker == "rabbitmq":
            return {**database, "broker_url": servers["rabbitmq"].url, "rabbitmq_prefix": name}
        return {
            **database,
            "broker_url": servers["kafka"].url,
            "kafka_topic": f"{name}.mail",
            "kafka_group": f"{name}-workers",
            "kafka_partitions": kafka_partitions,
        }

    def _cleanup(self, values: dict[str, Any], servers: dict[str, Any]) -> None:
        if "database_url" in values:
            asyncio.run(servers["postgres"].drop_database(values["database_url"]))

    def _migrate(self, settings: Settings) -> None:
        """`regmail migrate`, in this process (a subprocess costs a second)."""
        asyncio.run(migrate_all(settings))


# ---- measurements ----


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _hash_for(seconds: float) -> int:
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        hasher.hash("correct horse battery staple")
        n += 1
    return n


def hashing_ceiling(seconds: float) -> dict[str, float]:
    """argon2id hashes/s with regmail's parameters in a process pool over all cores."""
    with ProcessPoolExecutor(CORES) as pool:
        return {"per_s": sum(pool.map(_hash_for, [seconds] * CORES)) / seconds}


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
        load = asyncio.create_task(asyncio.to_thread(wrk_load.saturate, url, clients, seconds))
        await probe_health(http, deadline)
        signups = await load
    if signups["failed"]:
        raise RuntimeError(f"{signups['failed']} sign-ups failed under load")
    return {
        "per_s": signups["per_s"],
        "healthz_p99_ms": round(_p99(health), 1),
        "client_cpu_s": signups["client_cpu_s"],
    }


async def _until_all_sent(settings: Settings, count: int, limit_seconds: float = 300) -> None:
    deadline = time.monotonic() + limit_seconds
    while await count_mails(settings, MailStatus.SENT) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} mails not sent within {limit_seconds} s")
        await asyncio.sleep(0.1)


async def _commit_to_sent_ms(settings: Settings) -> list[float]:
    """Per mail: from the sign-up transaction's row to the 250 recorded (ms)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(mails.c.created_at, mails.c.sent_at).where(mails.c.status == "sent")
            )
            return [(sent - created).total_seconds() * 1000 for created, sent in rows]
    finally:
        await engine.dispose()


def _relay_rate(settings: Settings, count: int, limit_seconds: float = 600) -> float:
    """Rows/s the relay publishes, from its first publish until the outbox is empty."""
    deadline = time.monotonic() + limit_seconds
    first: tuple[float, int] | None = None
    while (left := asyncio.run(count_outbox(settings))) > 0:
        now = time.monotonic()
        if first is None and left < count:
            first = (now, left)
        if now > deadline:
            raise TimeoutError(f"the outbox was not relayed within {limit_seconds} s")
        time.sleep(0.05)
    if first is None:
        return float("nan")
    return round(first[1] / max(time.monotonic() - first[0], 1e-3), 1)


@dataclass(frozen=True)
class Window:
    """From the first of a run's mails at the sink to the last: start-up is left out."""

    mails: int
    seconds: float
    cpu_s: float  # of the watched processes within the window
    startup_cpu_s: float  # of the watched processes before their first mail arrived

    @property
    def mails_per_s(self) -> float:
        return self.mails / self.seconds


def _receipt_window(
    sink: SmtpSink, before: int, count: int, pids: Sequence[int] = (), limit_seconds: float = 600
) -> Window:
    """`count` new mails at the sink (which had `before`), timed from the first to the last,
    with the CPU the processes `pids` spent meanwhile, read from /proc at both ends."""
    total = before + count
    deadline = time.monotonic() + limit_seconds
    first: tuple[float, int, float] | None = None
    while (received := sink.received()) < total:
        now = time.monotonic()
        if first is None and received > before:
            first = (now, received, _cpu_of(pids))
        if now > deadline:
            raise TimeoutError(f"{total} mails not received within {limit_seconds} s")
        time.sleep(0.05)
    now, cpu = time.monotonic(), _cpu_of(pids)
    if first is None or now - first[0] < 0.5:
        raise RuntimeError("the run was too short to time: queue more mails")
    started, received_then, cpu_then = first
    return Window(total - received_then, now - started, cpu - cpu_then, cpu_then)


def _cpu_of(pids: Sequence[int]) -> float:
    """User + system CPU seconds of running processes, from /proc."""
    return sum(_cpu_seconds(pid) for pid in pids)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_cost(pids: list[int], window: Window) -> dict[str, float]:
    """CPU seconds per 1,000 mails over all the workers while they delivered (their start-up,
    a fixed cost, apart), and the largest peak RSS of one, read before the processes end."""
    peak_kb = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        peak_kb = max(peak_kb, next(int(x.split()[1]) for x in status if x.startswith("VmHWM")))
    return {
        "cpu_s_per_1000": round(window.cpu_s / window.mails * 1000, 2),
        "startup_cpu_s": round(window.startup_cpu_s / len(pids), 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def smtp_source(port: int, count: int, sessions: int) -> dict[str, float]:
    """Postfix's C client: the same number of connections, each reused (-d)."""
    command = ["/usr/sbin/smtp-source", "-d", "-s", str(sessions), "-m", str(count),
               "-l", "2000", "-f", "no-reply@regmail.localhost", "-t", "bench@example.com",
               f"127.0.0.1:{port}"]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return {"per_s": count / (time.monotonic() - started)}


@contextlib.contextmanager
def proxy_in_thread(target_port: int, round_trip: float) -> Iterator[Proxy]:
    """tests/support/delay_proxy.py on a loop of its own, for the worker processes to use."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxied = delay_proxy(target_port, round_trip)
    try:
        yield asyncio.run_coroutine_threadsafe(proxied.__aenter__(), loop).result()
    finally:
        asyncio.run_coroutine_threadsafe(proxied.__aexit__(None, None, None), loop).result()
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _cancel_the_rest() -> None:
    """The proxy's connections still open (a peer's worker was stopped mid-connection)."""
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


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
        # Which build: a distribution's and a pyenv-built 3.11 differ by ~20 % here.
        "python_executable": os.path.realpath(sys.executable),
        "os": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="regmail benchmarks")
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--only", action="append", metavar="SCENARIO", help="run only this step (repeatable)"
    )
    args = parser.parse_args()
    servers: dict[str, Any] = {
        "postgres": PostgresServer.find(),
        "rabbitmq": ServiceServer.find_or_start("rabbitmq"),
        "kafka": ServiceServer.find_or_start("kafka"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.quick, Path(tmp))
        scenarios: dict[str, Any] = {}
        durations: dict[str, float] = {}  # seconds per scenario, to keep --quick quick
        steps = [
            ("signup_latency", bench.signup_latency),
            ("signup_throughput", lambda: bench.signup_throughput(servers["postgres"])),
            ("delivery", lambda: bench.delivery(servers)),
            ("slow_scaling", lambda: bench.slow_scaling(servers)),
            ("pipelining", lambda: bench.pipelining(servers)),
            ("end_to_end", lambda: bench.end_to_end(servers)),
        ]
        steps = [step for step in steps if not args.only or step[0] in args.only]
        with Progress(disable=args.json) as progress:
            task = progress.add_task("benchmarks", total=len(steps))
            for name, run in steps:
                progress.update(task, description=name)
                started = time.monotonic()
                outcome = run()
                durations[name] = round(time.monotonic() - started, 1)
                if name == "delivery":
                    scenarios.update(outcome)
                else:
                    scenarios[name] = outcome
                progress.advance(task)
        bench.sink.stop()
    if args.only:  # a partial run is for looking, not for the results directory
        print(json.dumps({**scenarios, "durations": durations}, indent=2))
        print(markdown({"scenarios": scenarios}))
        return
    result = {
        "machine": machine(),
        "quick": args.quick,
        "command": " ".join(["bench/run", *sys.argv[1:]]),
        "scenarios": scenarios,
        "durations_s": durations,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results_stem(RESULTS, datetime.now(UTC))
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(result))
    plots(result, RESULTS / stamp)
    print(json.dumps(result) if args.json else markdown(result))


if __name__ == "__main__":
    main()
