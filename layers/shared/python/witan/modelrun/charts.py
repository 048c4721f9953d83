"""PNG fan charts (matplotlib, Agg backend: no display in Lambda or CI)."""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

# Lambda's home is read-only: matplotlib's config/font cache goes to the temp folder instead.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from witan.modelrun.definition import Numbers


def _fan(ax: Axes, years: Sequence[int], values: Numbers) -> None:
    """values [simulation, year]: 95% and 50% bands around the median."""
    p = np.percentile(values, [2.5, 25, 50, 75, 97.5], axis=0)
    ax.fill_between(years, p[0], p[4], color="tab:blue", alpha=0.2, linewidth=0, label="95% of simulations")
    ax.fill_between(years, p[1], p[3], color="tab:blue", alpha=0.4, linewidth=0, label="middle 50%")
    ax.plot(years, p[2], color="tab:blue", linewidth=1.5, label="median")
    ax.set_xticks(list(years))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def fan_chart(years: Sequence[int], values: Numbers, title: str, unit: str) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.9)
    _fan(ax, years, values)
    ax.set_title(title)
    ax.set_xlabel("calendar year (January)")
    ax.set_ylabel(unit)
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def setting_fan_charts(
    years: Sequence[int],
    values: Numbers,
    settings: Sequence[str],
    scenario: str,
) -> bytes:
    """values [simulation, year, setting]: one small fan chart per setting."""
    cols = min(5, len(settings))
    rows = math.ceil(len(settings) / cols)
    # No layout engine: constrained layout costs seconds on a grid this size.
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=0.9, wspace=0.3, hspace=0.5)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(settings):
            ax.set_visible(False)
            continue
        _fan(ax, years, values[:, :, i])
        ax.set_title(settings[i], fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.set_xticks([years[0], years[-1]])
    fig.suptitle(f"{scenario}: children by setting")
    return _png(fig)
