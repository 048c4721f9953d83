"""A model run's record, as the domain reads it (stored by witan.aws.model_runs; docs/contracts.md).

Fields a run has not reached yet are None (a run the API refused to start has no chunks; one rejected
by the plan step may have no model). Times are the stored ISO 8601 strings, answered as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RUNNING, SUCCEEDED, FAILED = "RUNNING", "SUCCEEDED", "FAILED"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    model: str | None = None
    status: str = RUNNING  # RUNNING | SUCCEEDED | FAILED
    progress: float = 0.0  # chunks done / chunks, 0..1
    chunks_done: int | None = None
    chunks_total: int | None = None
    simulations: int | None = None
    seed: int | None = None
    projection_years: int | None = None  # years after the seed year (None: every population year)
    years: tuple[int, ...] | None = None  # the projected calendar years, once planned
    scenarios: tuple[str, ...] = ()
    requested_by: str | None = None  # Cognito sub (runs started through the API)
    organisation: str | None = None  # who may see the run
    inputs: Mapping[str, Any] | None = None  # role -> where it was read (keys, a prefix, another run)
    email: str | None = None  # whom to tell when it ends
    output_prefix: str | None = None
    output_keys: tuple[str, ...] = ()
    error: Mapping[str, Any] | None = None  # {code, message, ...}
    execution_arn: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED
