"""Charts: children in care by placement with intervals (history before the start), cost by quarter,
and each scenario against the baseline."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from typing import Any

# Lambda's home is read-only: matplotlib's config/font cache goes to the temp folder instead.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

from witan.modelrun.definition import BASELINE, Measure

COLOURS = {
    "fostering": "tab:blue",
    "residential": "tab:red",
    "supported": "tab:green",
    "other": "tab:grey",
    "all": "black",
}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def band(
    m: Measure, rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean and 95% band of the measure's rows: from the variance, or across simulations."""
    values = m.values.reshape(m.values.shape[0], -1)[:, rows].astype(float)
    if m.variance is not None:
        half = m.interval_z * np.sqrt(np.maximum(m.variance[rows], 0))
        return values[0], values[0] - half, values[0] + half
    lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
    return values.mean(axis=0), lo, hi


def in_care_chart(plan: dict[str, Any], m: Measure, title: str) -> bytes:
    dates = np.asarray(m.keys["date"]).astype("datetime64[D]")
    places = np.asarray(m.keys["placement"])
    fig, ax = plt.subplots(figsize=(9, 5))
    hist = plan.get("history") or {}
    hist_days = np.asarray(hist.get("days", []), dtype=np.int64).astype("datetime64[D]")
    for p, colour in COLOURS.items():
        if p == "all":
            continue
        rows = np.flatnonzero(places == p)
        mean, lo, hi = band(m, rows)
        ax.plot(dates[rows], mean, color=colour, label=p)
        ax.fill_between(dates[rows], lo, hi, color=colour, alpha=0.2, linewidth=0)
        if len(hist_days):
            ax.plot(
                hist_days, np.asarray(hist["by_placement"][p]), color=colour, linewidth=0.8, linestyle=":"
            )
    # matplotlib's stubs say float; its date converter places a datetime64 on this date axis.
    ax.axvline(np.datetime64(int(plan["start"]), "D"), color="black", linewidth=0.5)  # type: ignore[arg-type]
    ax.set_title(title)
    ax.set_ylabel("children in care")
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def cost_chart(scenarios: Mapping[str, Mapping[str, Measure]]) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (name, ms) in enumerate(scenarios.items()):
        m = ms["costs"]
        rows = np.flatnonzero(np.asarray(m.keys["item"]) == "total")
        labels = np.asarray(m.keys["quarter"])[rows]
        mean, lo, hi = band(m, rows)
        x = np.arange(len(rows)) + i * 0.8 / max(len(scenarios), 1)
        ax.bar(
            x, mean, width=0.8 / max(len(scenarios), 1), label=name, yerr=[mean - lo, hi - mean], capsize=2
        )
        ax.set_xticks(np.arange(len(rows)), labels, rotation=45, fontsize="small")
    ax.set_title("cost by quarter (95% interval)")
    ax.set_ylabel("pounds")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _png(fig)


def versus_chart(plan: dict[str, Any], base: Measure, other: Measure, name: str) -> bytes:
    dates = np.asarray(base.keys["date"]).astype("datetime64[D]")
    places = np.asarray(base.keys["placement"])
    fig, ax = plt.subplots(figsize=(9, 5))
    for p, colour in COLOURS.items():
        rows = np.flatnonzero(places == p)
        for m, style in ((base, "--"), (other, "-")):
            mean, lo, hi = band(m, rows)
            ax.plot(
                dates[rows],
                mean,
                color=colour,
                linestyle=style,
                label=f"{p} ({BASELINE if m is base else name})",
            )
            if m is other:
                ax.fill_between(dates[rows], lo, hi, color=colour, alpha=0.15, linewidth=0)
    ax.set_title(f"{name} against the baseline: children in care")
    ax.legend(fontsize="x-small", ncol=2)
    return _png(fig)


def charts(plan: dict[str, Any], measures: Mapping[str, Mapping[str, Measure]]) -> dict[str, bytes]:
    out = {}
    for name, ms in measures.items():
        out[f"{name}/in_care.png"] = in_care_chart(
            plan, ms["in_care"], f"{name}: children in care by placement"
        )
        if name != BASELINE and BASELINE in measures:
            out[f"{name}/versus_baseline.png"] = versus_chart(
                plan, measures[BASELINE]["in_care"], ms["in_care"], name
            )
    out["costs.png"] = cost_chart(measures)
    return out
