"""deploy/grafana-dashboard.json evaluated as Grafana would: every panel's queries asked of a
real Prometheus over a time range, with Grafana's range variables filled in; and drawn in
the dashboard's own layout, for the picture in docs/deploy.md.

Grafana itself cannot be installed on the machines this project is built on (it is in no
registry they reach), so the drawing is ours: the queries, the layout, the units and the
data are the dashboard's, the look only resembles Grafana's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.prometheus import Prometheus

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Grafana's classic palette, in its order.
COLOURS = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9"]


@dataclass
class Series:
    name: str  # the target's legendFormat with the series' labels filled in
    times: list[float]
    values: list[float]


@dataclass
class Panel:
    title: str
    kind: str  # timeseries, bargauge, stat
    unit: str
    grid: dict[str, int]  # Grafana's gridPos: x, y, w, h in its 24-column grid
    series: list[Series]
    span: tuple[float, float]  # the dashboard's time range, shared by every panel


def load() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def expand(expr: str, range_seconds: float, step: float, scrape_seconds: float) -> str:
    """Fill in Grafana's range variables as Grafana does ($__rate_interval: the larger of
    four scrapes and one step plus a scrape)."""
    rate_interval = max(4 * scrape_seconds, step + scrape_seconds)
    return expr.replace("$__rate_interval", f"{int(rate_interval)}s").replace(
        "$__range", f"{int(range_seconds)}s"
    )


async def evaluate(prometheus: Prometheus, start: float, end: float) -> list[Panel]:
    """Every panel of the dashboard with the series its queries return over [start, end]."""
    step = max(float(prometheus.scrape_seconds), (end - start) / 300)
    panels = []
    for panel in load()["panels"]:
        series = []
        for target in panel["targets"]:
            expr = expand(target["expr"], end - start, step, prometheus.scrape_seconds)
            for result in await prometheus.query_range(expr, start, end, step):
                name = _legend(target.get("legendFormat", ""), result["metric"])
                points = [(float(t), float(v)) for t, v in result["values"]]
                series.append(Series(name, [t for t, _ in points], [v for _, v in points]))
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        grid = panel["gridPos"]
        panels.append(Panel(panel["title"], panel["type"], unit, grid, series, (start, end)))
    return panels


def _legend(legend_format: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: {{label}} is that label's value."""
    return LABEL.sub(lambda m: labels.get(m[1], ""), legend_format)


def render(panels: list[Panel], title: str, path: Path) -> None:
    """Draw the panels where gridPos puts them (24 columns; a row is 30 px in Grafana)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(p.grid["y"] + p.grid["h"] for p in panels)
    width_px, row_px, title_px = 1600.0, 30.0, 44.0
    height_px = rows * row_px + title_px
    figure = plt.figure(figsize=(width_px / 100, height_px / 100), dpi=100, facecolor="#111217")
    figure.text(0.01, 1 - 22 / height_px, title, color="#ccccdc", fontsize=15, va="center")
    for panel in panels:
        x, y, w, h = (panel.grid[k] for k in ("x", "y", "w", "h"))
        pad = 6.0  # pixels between panels
        left = (x / 24 * width_px + pad + 70) / width_px
        bottom = 1 - (title_px + (y + h) * row_px - pad - 28) / height_px
        axes = figure.add_axes(
            (
                left,
                bottom,
                (w / 24 * width_px - 2 * pad - 82) / width_px,
                (h * row_px - 2 * pad - 58) / height_px,
            )
        )
        _frame(figure, panel, width_px, height_px, title_px, row_px, pad)
        {"timeseries": _timeseries, "bargauge": _bargauge, "stat": _stat}[panel.kind](axes, panel)
    figure.savefig(path, facecolor=figure.get_facecolor())
    plt.close(figure)


def _frame(
    figure: Any, panel: Panel, width: float, height: float, top: float, row: float, pad: float
) -> None:
    from matplotlib.patches import Rectangle

    x, y, w, h = (panel.grid[k] for k in ("x", "y", "w", "h"))
    left, right = (x / 24 * width + pad) / width, ((x + w) / 24 * width - pad) / width
    upper = 1 - (top + y * row + pad) / height
    lower = 1 - (top + (y + h) * row - pad) / height
    box = Rectangle(
        (left, lower),
        right - left,
        upper - lower,
        transform=figure.transFigure,
        facecolor="#181b1f",
        edgecolor="#2c3235",
        zorder=-1,
    )
    figure.patches.append(box)
    figure.text(left + 8 / width, upper - 14 / height, panel.title, color="#ccccdc", fontsize=10)


def _style(axes: Any) -> None:
    axes.set_facecolor("#181b1f")
    axes.tick_params(colors="#9fa7b3", labelsize=8)
    axes.grid(color="#2c3235", linewidth=0.6)
    for side in axes.spines.values():
        side.set_visible(False)


def _timeseries(axes: Any, panel: Panel) -> None:
    _style(axes)
    for colour, series in zip(_colours(len(panel.series)), panel.series, strict=True):
        axes.plot(series.times, series.values, color=colour, linewidth=1.4, label=series.name)
    axes.set_xlim(*panel.span)
    axes.xaxis.set_major_formatter(lambda t, _: datetime.fromtimestamp(t).strftime("%H:%M:%S"))
    axes.yaxis.set_major_formatter(lambda v, _: _format(v, panel.unit))
    axes.set_ylim(bottom=0)
    if panel.series:
        axes.legend(loc="upper left", fontsize=8, frameon=False, labelcolor="#ccccdc", ncol=4)


def _bargauge(axes: Any, panel: Panel) -> None:
    _style(axes)
    names = [s.name for s in panel.series]
    values = [s.values[-1] for s in panel.series]
    axes.barh(names, values, color=_colours(len(values)), height=0.5)
    for i, value in enumerate(values):
        axes.text(value, i, f"  {_format(value, panel.unit)}", color="#ccccdc", va="center")
    axes.tick_params(axis="y", labelsize=9)
    axes.grid(False)
    axes.invert_yaxis()


def _stat(axes: Any, panel: Panel) -> None:
    axes.set_axis_off()
    last = max((s.values[-1] for s in panel.series), default=0.0)
    colour = "#F2495C" if last > 0 else "#73BF69"
    axes.text(0.5, 0.5, _format(last, panel.unit), color=colour, fontsize=40, ha="center")
    for series in panel.series:  # the sparkline Grafana draws under a stat
        spark = axes.inset_axes((0, 0, 1, 0.3))
        spark.set_axis_off()
        spark.fill_between(series.times, series.values, color=colour, alpha=0.3, step="post")
        spark.set_ylim(0, max(1.0, *series.values))


def _colours(n: int) -> list[str]:
    return [COLOURS[i % len(COLOURS)] for i in range(n)]


def _format(value: float, unit: str) -> str:
    """Grafana's units, as far as the dashboard uses them."""
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
    suffix = {"reqps": " req/s", "ops": " ops/s"}.get(unit, "")
    return f"{value:.3g}{suffix}" if value < 1000 else f"{value / 1000:.1f}K{suffix}"
