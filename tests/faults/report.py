"""The figures each fault scenario leaves in docs/reliability.md, written by the suite."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from tests.faults.harness import Outcome

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "reliability-figures.json"
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- figures: begin (written by tests/faults) -->", "<!-- figures: end -->"

_this_run: dict[str, dict[str, Any]] = {}


def record(
    scenario: str,
    result: Outcome,
    *,
    sign_ups: int | None = None,
    recovery_seconds: float | None = None,
    note: str = "",
) -> None:
    """Keep one scenario's figures for the end of the session (see `write`)."""
    _this_run[scenario] = {
        "sign_ups": sign_ups,
        "mails": result.mails,
        "sent": result.sent,
        "dead": result.dead,
        "lost": len(result.lost),
        "duplicates": result.duplicates,
        "recovery_seconds": None if recovery_seconds is None else round(recovery_seconds, 1),
        "note": note,
        "date": date.today().isoformat(),
    }
    print(f"{scenario}: {_this_run[scenario]}")


def write() -> None:
    """Merge this session's figures into the kept ones and rewrite the table in the doc.

    Scenarios that did not run keep their last figures (and their date)."""
    if not _this_run:
        return
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures.update(_this_run)
    FIGURES.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n")
    doc = DOC.read_text()
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table(figures)}{END}{tail}")


def table(figures: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| scenario | sign-ups | mails | sent | dead | lost | duplicates | recovery s "
        "| note | run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, f in figures.items():
        cells = [name, *(_cell(f[k]) for k in ("sign_ups", "mails", "sent", "dead", "lost"))]
        cells += [_cell(f["duplicates"]), _cell(f["recovery_seconds"]), f["note"], f["date"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return "–" if value is None else str(value)
