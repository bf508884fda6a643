"""A node of a replicated server lost under sign-up load: nothing acknowledged is lost,
copies stay within the documented bound, and the API answers 202 or a clean 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from regmail.mails.status import MailStatus
from regmail.settings import Settings
from tests.faults import report
from tests.faults.harness import Fleet, Outcome, SignUpLoad, outcome
from tests.support.brokers import kafka_overrides, rabbit_overrides
from tests.support.mailstate import count_mails, count_outbox, none_unsent
from tests.support.servers import Cluster, PostgresPair, PostgresServer
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

PER_PHASE = 50  # acknowledged sign-ups in each phase
WORKERS, CONCURRENCY = 2, 10


@dataclass
class Scenario:
    settings: Settings
    load: SignUpLoad
    fleet: Fleet
    all_sent_at: float = 0.0  # when every mail had been sent, after the load stopped
    result: Outcome | None = None  # the end state, read before the database goes

    async def sent_beyond(self, more: int) -> None:
        """Wait until `more` mails beyond those sent now are sent: delivery goes on."""
        target = await count_mails(self.settings, MailStatus.SENT) + more

        async def probe() -> bool:
            return await count_mails(self.settings, MailStatus.SENT) >= target

        await eventually(probe, timeout=180)

    def checked_without_a_fault_seen(self) -> Outcome:
        """The node's loss never showed: every answer 202, every mail once."""
        statuses = self.load.statuses()
        assert set(statuses) == {202}, f"sign-up must not fail: {statuses}"
        assert self.result is not None
        self.result.check(duplicate_bound=0)
        return self.result


@asynccontextmanager
async def _under_load(tmp_path: Path, sink: SmtpSink, **overrides: Any) -> AsyncIterator[Scenario]:
    """`regmail serve` (relaying) and two workers under sign-up load for the body; then
    the load stops, every mail must be sent, and the processes stop."""
    sink.start()
    port = free_port()
    settings = make_settings(
        tmp_path, smtp_url=sink.url, port=port, worker_concurrency=CONCURRENCY, **overrides
    )
    fleet = Fleet(settings, tmp_path)
    await fleet.migrate()  # the schema; quorum queues or topics with their replicas
    scenario = Scenario(settings, SignUpLoad(f"http://127.0.0.1:{port}"), fleet)
    try:
        fleet.start("serve")
        for _ in range(WORKERS):
            fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        scenario.load.start()
        try:
            await eventually(scenario.load.reached(202, "before", PER_PHASE), timeout=60)
            yield scenario
        finally:
            await scenario.load.stop()
        await eventually(lambda: none_unsent(settings), timeout=180, interval=0.5)
        scenario.all_sent_at = time.monotonic()
        accepted = scenario.load.accepted()
        scenario.result = await outcome(settings, sink.message_ids(), accepted_recipients=accepted)
    finally:
        await fleet.stop()


@asynccontextmanager
async def _database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database of its own on the test PostgreSQL server (the brokers' scenarios)."""
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    url = await postgres.create_database()
    try:
        yield url
    finally:
        await postgres.drop_database(url)


async def test_postgres_primary_killed_and_standby_promoted(
    tmp_path: Path, smtp_sink: SmtpSink, postgres_pair: PostgresPair, long_mode: bool
) -> None:
    """SIGKILL the primary; once the API has answered 503s for a while, as a failover
    manager would take to decide, promote the standby (synchronous replication: it has
    every commit the primary acknowledged). API and workers find it through the multi-host
    URL; everything acknowledged is delivered."""
    undecided = 60 if long_mode else 20  # 503 answers between the kill and the promotion
    overrides = {
        "database_url": postgres_pair.url,
        "lease_seconds": 10,  # a claim whose commit went unheard in the crash comes back soon
    }
    async with _under_load(tmp_path, smtp_sink, **overrides) as scenario:
        load = scenario.load
        load.phase = "primary-lost"
        await asyncio.to_thread(postgres_pair.kill_primary)
        await eventually(load.reached(503, "primary-lost", undecided), timeout=60)
        load.phase = "after"
        await asyncio.to_thread(postgres_pair.promote_standby)
        promoted_at = time.monotonic()
        await eventually(load.reached(202, "after", PER_PHASE), timeout=120)
    result = scenario.result
    assert result is not None
    statuses = load.statuses()
    assert set(statuses) <= {202, 503}, statuses
    assert all(
        a.content_type == "application/problem+json" for a in load.answers if a.status == 503
    )
    assert max(a.seconds for a in load.answers) < 15, "a request hung"
    # A mail the SMTP server took while the primary died, its `sent` never committed, goes
    # again: at most each worker's concurrency (docs/reliability.md).
    result.check(duplicate_bound=WORKERS * CONCURRENCY)
    report.record(
        "PostgreSQL primary SIGKILLed, standby promoted, db-postgres",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=scenario.all_sent_at - promoted_at,
        note=f"{statuses[503]} answers 503 until the promotion, no other error; "
        "recovery: promotion → all sent",
    )


async def test_rabbitmq_node_leading_the_work_queue_killed_and_revived(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    rabbitmq_cluster: Cluster,
    long_mode: bool,
) -> None:
    """Quorum queues on three nodes: SIGKILL the node leading the work queue. The relay
    and the workers reconnect to the other nodes (the URL names all three), a new leader
    is elected from the replicas that have every confirmed message, and delivery goes on;
    the node comes back and rejoins."""
    lost_for = 60 if long_mode else 10  # seconds the node stays down after delivery resumed
    async with (
        _database(request) as database,
        _under_load(
            tmp_path,
            smtp_sink,
            database_url=database,
            **rabbit_overrides(rabbitmq_cluster.url),
            rabbitmq_quorum_size=3,
        ) as scenario,
    ):
        load = scenario.load
        leader = rabbitmq_cluster.leader(f"{scenario.settings.rabbitmq_prefix}.mail")
        load.phase = "node-lost"
        await asyncio.to_thread(rabbitmq_cluster.kill, leader)
        await eventually(load.reached(202, "node-lost", PER_PHASE), timeout=60)
        await scenario.sent_beyond(PER_PHASE)  # delivery goes on without the node
        await asyncio.sleep(lost_for)  # the outage's length, not a synchronisation
        load.phase = "after"
        await asyncio.to_thread(rabbitmq_cluster.revive, leader)
        revived_at = time.monotonic()
        await eventually(load.reached(202, "after", PER_PHASE), timeout=60)
    result = scenario.checked_without_a_fault_seen()
    report.record(
        "RabbitMQ node leading the work queue SIGKILLed, 3-node cluster",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=scenario.all_sent_at - revived_at,
        note="every answer 202; delivery went on without the node; recovery: node back → all sent",
    )


async def test_kafka_broker_leading_the_mail_topic_killed_then_two_down(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    kafka_cluster: Cluster,
    long_mode: bool,
) -> None:
    """RF 3, min.insync.replicas=2, acks=all. SIGKILL the broker leading the mail topic:
    a replica in sync takes over and delivery goes on. SIGKILL a second: the topic cannot
    take a write it could not protect (NotEnoughReplicas, and no controller quorum), so
    the relay keeps the mails in the outbox while sign-ups still answer 202. One broker
    back: delivery resumes; both back: everything acknowledged is delivered."""
    two_down_for = 60 if long_mode else 10  # the outage's length beyond its checks
    async with (
        _database(request) as database,
        _under_load(
            tmp_path,
            smtp_sink,
            database_url=database,
            **kafka_overrides(kafka_cluster.url, partitions=1),  # one partition: one leader
            kafka_replication=3,
        ) as scenario,
    ):
        load = scenario.load
        first = kafka_cluster.leader(scenario.settings.kafka_topic)
        second = next(n for n in (1, 2, 3) if n != first)
        load.phase = "leader-lost"
        await asyncio.to_thread(kafka_cluster.kill, first)
        await eventually(load.reached(202, "leader-lost", PER_PHASE), timeout=60)
        await scenario.sent_beyond(PER_PHASE)  # a replica in sync leads now
        load.phase = "two-lost"
        await asyncio.to_thread(kafka_cluster.kill, second)
        await eventually(load.reached(202, "two-lost", PER_PHASE), timeout=60)
        await asyncio.sleep(two_down_for)  # the outage's length, not a synchronisation
        held = await count_outbox(scenario.settings)  # no broker took them
        assert held >= PER_PHASE, held
        load.phase = "one-back"
        await asyncio.to_thread(kafka_cluster.revive, first)
        revived_at = time.monotonic()
        await scenario.sent_beyond(PER_PHASE)
        load.phase = "after"
        await asyncio.to_thread(kafka_cluster.revive, second)
        await eventually(load.reached(202, "after", PER_PHASE), timeout=60)
    result = scenario.checked_without_a_fault_seen()
    report.record(
        "Kafka leader SIGKILLed, then a second broker, 3 brokers RF 3 min.insync 2",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=scenario.all_sent_at - revived_at,
        note=f"every answer 202; one lost: delivery went on; two lost: {held} mails held "
        "in the outbox; recovery: one broker back → all sent",
    )
