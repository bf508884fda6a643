"""A node of a replicated server lost under sign-up load: nothing acknowledged is lost,
copies stay within the documented bound, and the API answers 202 or a clean 503."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from regmail.mails.status import MailStatus
from regmail.settings import Settings
from tests.faults import report
from tests.faults.harness import Fleet, SignUpLoad, outcome
from tests.support.brokers import kafka_overrides, rabbit_overrides
from tests.support.mailstate import count_mails, count_outbox, none_unsent
from tests.support.servers import KafkaCluster, PostgresPair, PostgresServer, RabbitCluster
from tests.support.service import make_settings
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

PER_PHASE = 50  # acknowledged sign-ups before and after the failover
WORKERS, CONCURRENCY = 2, 10


async def test_postgres_primary_killed_and_standby_promoted(
    tmp_path: Path, smtp_sink: SmtpSink, postgres_pair: PostgresPair, long_mode: bool
) -> None:
    """SIGKILL the primary; once the API has answered 503s for a while, as a failover
    manager would take to decide, promote the standby (synchronous replication: it has
    every commit the primary acknowledged). API and workers find it through the multi-host
    URL; everything acknowledged is delivered."""
    undecided = 60 if long_mode else 20  # 503 answers between the kill and the promotion
    smtp_sink.start()
    port = free_port()
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        port=port,
        database_url=postgres_pair.url,
        worker_concurrency=CONCURRENCY,
        lease_seconds=10,  # a claim whose commit went unheard in the crash comes back soon
    )
    fleet = Fleet(settings, tmp_path)
    await fleet.migrate()
    load = SignUpLoad(f"http://127.0.0.1:{port}")
    try:
        fleet.start("serve")
        for _ in range(WORKERS):
            fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        load.start()
        try:
            await eventually(load.reached(202, "before", PER_PHASE), timeout=60)
            load.phase = "primary-lost"
            await asyncio.to_thread(postgres_pair.kill_primary)
            await eventually(load.reached(503, "primary-lost", undecided), timeout=60)
            load.phase = "after"
            await asyncio.to_thread(postgres_pair.promote_standby)
            promoted_at = time.monotonic()
            await eventually(load.reached(202, "after", PER_PHASE), timeout=120)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.5)
        recovery = time.monotonic() - promoted_at
    finally:
        await fleet.stop()
    result = await outcome(settings, smtp_sink.message_ids(), accepted_recipients=load.accepted())
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
        recovery_seconds=recovery,
        note=f"{statuses[503]} answers 503 until the promotion, no other error; "
        "recovery: promotion → all sent",
    )


async def test_rabbitmq_node_leading_the_work_queue_killed_and_revived(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    rabbitmq_cluster: RabbitCluster,
    long_mode: bool,
) -> None:
    """Quorum queues on three nodes: SIGKILL the node leading the work queue. The relay
    and the workers reconnect to the other nodes (the URL names all three), a new leader
    is elected from the replicas that have every confirmed message, and delivery goes on;
    the node comes back and rejoins."""
    lost_for = 60 if long_mode else 10  # seconds the node stays down after delivery resumed
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    database = await postgres.create_database()
    smtp_sink.start()
    port = free_port()
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        port=port,
        database_url=database,
        worker_concurrency=CONCURRENCY,
        **rabbit_overrides(rabbitmq_cluster.url),
        rabbitmq_quorum_size=3,
    )
    fleet = Fleet(settings, tmp_path)
    try:
        await fleet.migrate()  # declares the quorum queues, a replica on each node
        leader = rabbitmq_cluster.leader(f"{settings.rabbitmq_prefix}.mail")
        load = SignUpLoad(f"http://127.0.0.1:{port}")
        fleet.start("serve")  # relays in-process
        for _ in range(WORKERS):
            fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        load.start()
        try:
            await eventually(load.reached(202, "before", PER_PHASE), timeout=60)
            load.phase = "node-lost"
            await asyncio.to_thread(rabbitmq_cluster.kill, leader)
            sent_at_kill = await count_mails(settings, MailStatus.SENT)
            await eventually(load.reached(202, "node-lost", PER_PHASE), timeout=60)
            # Delivery goes on without the node: mails signed up after its loss are sent.
            await eventually(_sent_beyond(settings, sent_at_kill + PER_PHASE), timeout=120)
            await asyncio.sleep(lost_for)  # the outage's length, not a synchronisation
            load.phase = "after"
            await asyncio.to_thread(rabbitmq_cluster.revive, leader)
            revived_at = time.monotonic()
            await eventually(load.reached(202, "after", PER_PHASE), timeout=60)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=120, interval=0.5)
        recovery = time.monotonic() - revived_at
        await fleet.stop()
        result = await outcome(
            settings, smtp_sink.message_ids(), accepted_recipients=load.accepted()
        )
    finally:
        await fleet.stop()
        await postgres.drop_database(database)
    assert set(load.statuses()) == {202}, f"sign-up must not fail: {load.statuses()}"
    result.check(duplicate_bound=0)
    report.record(
        "RabbitMQ node leading the work queue SIGKILLed, 3-node cluster",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=recovery,
        note="every answer 202; delivery went on without the node; recovery: node back → all sent",
    )


def _sent_beyond(settings: Settings, count: int):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return await count_mails(settings, MailStatus.SENT) >= count

    return probe


async def test_kafka_broker_leading_the_mail_topic_killed_then_two_down(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    kafka_cluster: KafkaCluster,
    long_mode: bool,
) -> None:
    """RF 3, min.insync.replicas=2, acks=all. SIGKILL the broker leading the mail topic:
    a replica in sync takes over and delivery goes on. SIGKILL a second: the topic cannot
    take a write it could not protect (NotEnoughReplicas, and no controller quorum), so
    the relay keeps the mails in the outbox while sign-ups still answer 202. One broker
    back: delivery resumes; both back: everything acknowledged is delivered."""
    two_down_for = 60 if long_mode else 10  # the outage's length beyond its checks
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    database = await postgres.create_database()
    smtp_sink.start()
    port = free_port()
    settings = make_settings(
        tmp_path,
        smtp_url=smtp_sink.url,
        port=port,
        database_url=database,
        worker_concurrency=CONCURRENCY,
        **kafka_overrides(kafka_cluster.url, partitions=1),  # one partition: one leader
        kafka_replication=3,
    )
    fleet = Fleet(settings, tmp_path)
    try:
        await fleet.migrate()  # creates the topics: RF 3, min.insync.replicas=2
        first = kafka_cluster.leader(settings.kafka_topic)
        second = next(n for n in (1, 2, 3) if n != first)
        load = SignUpLoad(f"http://127.0.0.1:{port}")
        fleet.start("serve")  # relays in-process
        for _ in range(WORKERS):
            fleet.start("worker")
        await asyncio.to_thread(wait_for_port, port, 30)
        load.start()
        try:
            await eventually(load.reached(202, "before", PER_PHASE), timeout=60)
            load.phase = "leader-lost"
            await asyncio.to_thread(kafka_cluster.kill, first)
            sent = await count_mails(settings, MailStatus.SENT)
            await eventually(load.reached(202, "leader-lost", PER_PHASE), timeout=60)
            await eventually(_sent_beyond(settings, sent + PER_PHASE), timeout=120)
            load.phase = "two-lost"
            await asyncio.to_thread(kafka_cluster.kill, second)
            await eventually(load.reached(202, "two-lost", PER_PHASE), timeout=60)
            await asyncio.sleep(two_down_for)  # the outage's length, not a synchronisation
            # The sign-ups of the outage wait in the outbox: no broker took them.
            held = await count_outbox(settings)
            assert held >= PER_PHASE, held
            load.phase = "one-back"
            await asyncio.to_thread(kafka_cluster.revive, first)
            revived_at = time.monotonic()
            sent = await count_mails(settings, MailStatus.SENT)
            await eventually(_sent_beyond(settings, sent + PER_PHASE), timeout=180)
            load.phase = "after"
            await asyncio.to_thread(kafka_cluster.revive, second)
            await eventually(load.reached(202, "after", PER_PHASE), timeout=60)
        finally:
            await load.stop()
        await eventually(lambda: none_unsent(settings), timeout=180, interval=0.5)
        recovery = time.monotonic() - revived_at
        await fleet.stop()
        result = await outcome(
            settings, smtp_sink.message_ids(), accepted_recipients=load.accepted()
        )
    finally:
        await fleet.stop()
        await postgres.drop_database(database)
    assert set(load.statuses()) == {202}, f"sign-up must not fail: {load.statuses()}"
    result.check(duplicate_bound=0)
    report.record(
        "Kafka leader SIGKILLed, then a second broker, 3 brokers RF 3 min.insync 2",
        result,
        sign_ups=len(load.accepted()),
        recovery_seconds=recovery,
        note=f"every answer 202; one lost: delivery went on; two lost: {held} mails held "
        "in the outbox; recovery: one broker back → all sent",
    )
