"""bench/report.py judges each figure against its bar from issue 20."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.report import markdown, results_stem


def _row(table: str, scenario: str) -> str:
    return next(line for line in table.splitlines() if scenario in line)


def test_a_figure_past_its_bar_is_marked_not_met() -> None:
    table = markdown({"scenarios": {"end_to_end": {
        "db-sqlite": {"rate_per_s": 20, "p50_ms": 30.0, "p95_ms": 55.0},
        "rabbitmq": {"rate_per_s": 20, "p50_ms": 30.0, "p95_ms": 61.0},
    }}})  # fmt: skip
    assert _row(table, "db-sqlite").endswith("| ✓ |")
    assert _row(table, "rabbitmq").endswith("| ✗ not met |")


def test_delivery_is_judged_against_both_peers() -> None:
    rates = {"db-sqlite": 1900.0, "db-postgres": 1700.0, "rabbitmq": 2100.0, "kafka": 1900.0,
             "smtp_source": 4500.0, "celery": 1000.0, "dramatiq": 1500.0}  # fmt: skip
    table = markdown({"scenarios": {"delivery": rates, "relay": {}}})
    assert _row(table, "delivery db-sqlite").endswith("| ✓ |")  # 1.27 times and 1.9 times
    assert _row(table, "delivery db-postgres").endswith("| ✗ not met |")  # 1.13 times Dramatiq
    assert _row(table, "delivery rabbitmq").endswith("| ✓ |")


def test_pipelining_is_judged_against_one_mail_a_round_trip_and_the_peers() -> None:
    figures = {"rtt_ms": 20, "ideal_per_s": 50.0, "regmail_per_conn_s": 41.0,
               "celery_per_conn_s": 11.8, "dramatiq_per_conn_s": 14.0,
               "smtp_source_per_conn_s": 11.7}  # fmt: skip
    table = markdown({"scenarios": {"pipelining": figures}})
    assert _row(table, "regmail / ideal").endswith("| ✓ |")  # 82 %
    assert _row(table, "faster peer").endswith("| ✗ not met |")  # 2.9 times Dramatiq


def test_scaling_is_met_only_when_every_step_is() -> None:
    table = markdown({"scenarios": {"slow_scaling": {
        "db-sqlite": {"10": 4.6, "50": 23.0},
        "kafka": {"10": 4.9, "50": 22.0},
    }}})  # fmt: skip
    assert _row(table, "db-sqlite").endswith("| ✓ |")
    assert _row(table, "kafka").endswith("| ✗ not met |")  # 22 of 25 is 88 %


def test_a_second_run_on_one_day_keeps_the_first(tmp_path: Path) -> None:
    morning, evening = (
        datetime(2026, 12, 6, 7, 5, tzinfo=UTC),
        datetime(2026, 12, 6, 19, 40, tzinfo=UTC),
    )
    assert results_stem(tmp_path, morning) == "2026-12-06"
    (tmp_path / "2026-12-06.json").write_text("{}")
    assert results_stem(tmp_path, evening) == "2026-12-06-1940"


def test_sign_up_latency_with_answers_lost_is_not_met() -> None:
    figures = {"offered_per_s": 55.0, "regmail_p50_ms": 20.0, "regmail_p99_ms": 40.0,
               "sync_p50_ms": 40000.0, "sync_p99_ms": 60000.0}  # fmt: skip
    whole = markdown({"scenarios": {"signup_latency": {**figures, "regmail_errors": 0}}})
    lost = markdown({"scenarios": {"signup_latency": {**figures, "regmail_errors": 3}}})
    assert _row(whole, "sign-up p99").endswith("| ✓ |")
    assert _row(lost, "sign-up p99").endswith("| ✗ not met |")
    assert "3 not 202" in _row(lost, "sign-up p99")


def test_sign_up_shares_are_the_medians_of_saturations_beside_their_own_ceilings() -> None:
    figures = {"ceiling_per_s": 100.0, "postgres_ceiling_per_s": 90.0,
               "regmail_per_s": 84.0, "regmail_postgres_per_s": 77.0,
               "share_of_ceiling": 0.86, "postgres_share_of_ceiling": 0.84,
               "healthz_p99_ms": 5.0}  # fmt: skip
    table = markdown({"scenarios": {"signup_throughput": figures}})
    assert _row(table, "on SQLite").endswith("| ✓ |")  # 0.86, not 84 / 100
    assert _row(table, "on PostgreSQL").endswith("| ✗ not met |")  # 0.84, not 77 / 90
    assert "77.0 / 90.0" in _row(table, "on PostgreSQL")
