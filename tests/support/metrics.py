"""Reading a Prometheus /metrics page in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(page: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, its labels) → value, for every sample on the page."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


def value(page: str, name: str, **labels: str) -> float:
    """One sample's value; 0 when the page does not have it (yet)."""
    return samples(page).get((name, frozenset(labels.items())), 0.0)
