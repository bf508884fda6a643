"""The Grafana dashboard asks only for metrics regmail really defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import regmail.metrics  # noqa: F401  (defines them)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
METRIC = re.compile(r"\bregmail_[a-z_]+")
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")


def test_every_dashboard_query_names_a_defined_metric() -> None:
    defined = {f.name + s for f in REGISTRY.collect() for s in SUFFIXES}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    wanted = {m for p in panels for t in p["targets"] for m in METRIC.findall(t["expr"])}
    assert len(wanted) >= 10
    assert wanted <= defined, sorted(wanted - defined)
