"""bench/report.py judges each figure against its bar from issue 6."""

from __future__ import annotations

from bench.report import markdown


def _row(table: str, scenario: str) -> str:
    return next(line for line in table.splitlines() if scenario in line)


def test_a_figure_past_its_bar_is_marked_not_met() -> None:
    table = markdown({"scenarios": {"end_to_end": {
        "db-sqlite": {"rate_per_s": 40, "p50_ms": 30.0, "p95_ms": 240.0},
        "rabbitmq": {"rate_per_s": 40, "p50_ms": 30.0, "p95_ms": 260.0},
        "kafka": {"rate_per_s": 40, "p50_ms": 130.0, "p95_ms": 480.0},
    }}})  # fmt: skip
    assert _row(table, "db-sqlite").endswith("| ✓ |")
    assert _row(table, "rabbitmq").endswith("| ✗ not met |")
    assert _row(table, "kafka").endswith("| ✓ |")  # Kafka's bar is 500 ms


def test_delivery_is_judged_against_the_reference_and_the_peers() -> None:
    rates = {"db-sqlite": 1000.0, "db-postgres": 700.0, "rabbitmq": 4000.0, "kafka": 900.0,
             "smtp_source": 4500.0, "celery": 800.0, "dramatiq": 1200.0}  # fmt: skip
    table = markdown({"scenarios": {"delivery": rates, "relay": {}}})
    assert _row(table, "delivery db-sqlite").endswith("| ✓ |")  # 22 % of 4500
    assert _row(table, "delivery db-postgres").endswith("| ✗ not met |")  # 16 %
    assert _row(table, "rabbitmq / celery").endswith("| ✓ |")  # 5.0 times
    assert _row(table, "rabbitmq / dramatiq").endswith("| ✗ not met |")  # 3.3 times


def test_scaling_is_met_only_when_every_step_is() -> None:
    table = markdown({"scenarios": {"slow_scaling": {
        "db-sqlite": {"10": 4.6, "50": 23.0},
        "kafka": {"10": 4.9, "50": 22.0},
    }}})  # fmt: skip
    assert _row(table, "db-sqlite").endswith("| ✓ |")
    assert _row(table, "kafka").endswith("| ✗ not met |")  # 22 of 25 is 88 %
