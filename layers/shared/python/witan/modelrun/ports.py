"""The model runs' record store, as the steps and the API see it (witan.aws.model_runs.ModelRunsTable)."""

from __future__ import annotations

from typing import Any, Protocol

from witan.modelrun.records import RunRecord


class RunRecords(Protocol):
    """What the state machine's steps record about a run."""

    def started(
        self,
        run_id: str,
        *,
        model: str,
        simulations: int,
        seed: int,
        scenarios: list[str],
        chunks_total: int,
        output_prefix: str,
        email: str | None,
        projection_years: int | None = None,
        years: list[int] | None = None,
    ) -> None: ...

    def chunk_done(self, run_id: str) -> float: ...

    def succeeded(self, run_id: str, output_keys: list[str]) -> None: ...

    def failed(self, run_id: str, error: dict[str, Any], email: str | None = None) -> None: ...

    def get(self, run_id: str) -> RunRecord | None: ...


class RunStore(RunRecords, Protocol):
    """The steps' needs plus the API's: create the record of a requested run, note its execution, list."""

    def requested(
        self,
        run_id: str,
        *,
        model: str,
        simulations: int,
        seed: int,
        scenarios: list[str],
        requested_by: str,
        organisation: str,
        email: str | None,
        inputs: dict[str, Any],
        projection_years: int | None = None,
    ) -> str: ...

    def set_execution(self, run_id: str, execution_arn: str) -> None: ...

    def list_runs(self, max_items: int = 5000) -> list[RunRecord]: ...
