"""The emails telling a requester how their model run ended (plain text + HTML).

The text can carry a model's error message, which may quote an input file: the HTML part escapes it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from witan.collect.uploads.notify import Email


def _email(to: str, subject: str, text: str) -> Email:
    return Email(
        to=to, subject=subject, text=text, html="<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
    )


def run_finished(to: str, run_id: str, meta: Mapping[str, Any], results: str) -> Email:
    """`meta` is the run's metadata (model, simulations, scenarios); `results` where the outputs are."""
    return _email(
        to,
        f"Witan model run {run_id} finished",
        f"Your {meta['model']} model run {run_id} ({meta['simulations']} simulation(s), "
        f"{len(meta['scenarios'])} scenario(s) with the baseline) has finished.\n"
        f"Results: {results} (summaries.xlsx, the output tables, charts/).",
    )


def run_failed(to: str, run_id: str, model: str, message: str) -> Email:
    return _email(
        to, f"Witan model run {run_id} failed", f"Your {model} model run {run_id} failed: {message}"
    )
