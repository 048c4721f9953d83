"""What a model tells the platform: a `ModelDefinition`, registered in `witan.modelrun.registry`.

The platform (witan.modelrun.pipeline) takes any registered model through the same steps:
  request checked (parameters against `parameters_schema`, each scenario against `scenario_schema`,
  then `check_request`) -> inputs read and checked against their Table Schemas (the upload checker's
  report: row, column, code) -> `plan` (fit once; the model stores what its chunks need) -> one chunk
  per (scenario, block of simulations) -> `simulate` -> `measures` per scenario -> summaries (CSV and
  Parquet), comparison of every scenario with the baseline, `charts`, one workbook, run metadata.

A model's definition subclasses `ModelDefinition` and declares what is its own: names, inputs,
parameter and scenario schemas, outputs, and `runner`, its run module (a `ModelRunner`: plan, chunk,
measures, charts, fitted tables). The base carries the rest: CLI flags drawn from the parameters schema
(witan.modelrun.parameter_flags), the steps handed to the run module, the hooks most models leave alone.

A definition module imports only the standard library and the platform's light modules at import
time (the run module, numpy and pyarrow inside `runner`): the API lists and describes models without
them.

A deterministic model (`stochastic = False`) runs one "simulation" per scenario: its measures hold one
row of values, or values with an analytic variance.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from witan.modelrun.errors import InputWarning
from witan.modelrun.parameter_flags import add_parameter_flags, parameters_from_flags

if TYPE_CHECKING:  # the API describes models without numpy or pyarrow (its Lambda has neither)
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from witan.modelrun.storage import RunStorage

    # A measure's values (counts or amounts) and key columns (a list, or a numpy or Arrow array).
    Numbers: TypeAlias = npt.NDArray[np.floating[Any] | np.integer[Any]]
    KeyColumn: TypeAlias = Sequence[Any] | npt.NDArray[Any] | pa.Array

BASELINE = "baseline"
SCENARIO_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def scenario_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """A model's scenario format (JSON Schema): its own properties beside the name and description
    every scenario has."""
    return {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": SCENARIO_NAME_PATTERN, "not": {"const": BASELINE}},
            "description": {"type": "string", "maxLength": 2000},
            **properties,
        },
    }


def list_of(
    properties: dict[str, Any], *, required: Sequence[str] = (), description: str | None = None
) -> dict[str, Any]:
    """JSON Schema of a list of objects with these properties and no others (a scenario's changes)."""
    item: dict[str, Any] = {"type": "object"}
    if required:
        item["required"] = list(required)
    item |= {"additionalProperties": False, "properties": properties}
    about = {"description": description} if description is not None else {}
    return {"type": "array", **about, "items": item}


@dataclass(frozen=True)
class InputRole:
    """One input table of a model.

    `file` is the file stem looked for in an inputs folder (`population` -> population.csv,
    population.parquet or, where `formats` allows, population.xlsx); `schema` the Table Schema file
    under schemas/models/{model}/ that the upload checker applies before the model reads it (None:
    the model's own reader checks it, e.g. where DfE files have optional columns in any order)."""

    role: str
    file: str
    description: str
    schema: str | None = None
    required: bool = True
    many: bool = False  # several files share the role (quarterly CLD files: cld*.csv)
    formats: tuple[str, ...] = (".csv", ".parquet")


@dataclass(frozen=True)
class OutputTable:
    """A table a run writes (as CSV and Parquet): the baseline's at the run's root, each scenario's
    under scenarios/{name}/."""

    name: str
    description: str


@dataclass(frozen=True)
class InputFile:
    """One input file's bytes and the name to use in messages."""

    name: str
    data: bytes


# role -> the files given for it (one, or several for a `many` role)
InputFiles = Mapping[str, Sequence[InputFile]]


@dataclass(frozen=True)
class ChainAdapter:
    """How a model takes another run's output as one of its inputs (runs that feed runs).

    `convert(table, options)` turns the source run's output table (its Parquet) into this model's
    input file; `options` are the extra keys of the input reference (e.g. {"gss_code": ...}).
    `description` documents the mapping for `GET /models/{name}`."""

    model: str
    output: str
    description: str
    options: Mapping[str, str]  # option name -> what it means (shown in discovery)
    convert: Callable[[pa.Table, Mapping[str, Any]], InputFile]


@dataclass
class Measure:
    """A quantity by its key columns, for every simulation of one scenario.

    keys: column name -> values, each of length n (rows of the output table, in order);
    values: [simulations, n]. Stochastic models: summarised across simulations (mean, sd, percentiles,
    95% interval of the mean). Deterministic models: one simulation; written as `value_name`, or, with
    an analytic `variance`, as mean, variance, lower, upper (mean +/- interval_z sd)."""

    keys: Mapping[str, KeyColumn]
    values: Numbers
    value_name: str = "value"
    variance: npt.NDArray[np.float64] | None = None
    interval_z: float = 1.96
    compare: bool = False  # compared with the baseline in scenarios/{name}/comparison
    chart: bool = False  # given to `charts` (with every compared measure); others are freed once written
    workbook: bool = True  # a sheet of summaries.xlsx (large tables: CSV and Parquet only)
    drop_all_zero: bool = False  # leave out rows that are zero in every simulation
    decimals: int | None = None  # round the statistics (not the keys) to this many places
    fixed: bool = False  # the same in every simulation (fitted rates, history): written as the value


@dataclass
class Planned:
    """What `plan` returns: the fitted run, ready to be cut into chunks."""

    plan: dict[str, Any]  # JSON-able; the model's own (given back to simulate/measures/charts)
    input_hashes: dict[str, str]  # file name -> sha256
    warnings: list[InputWarning] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # shown in metadata.json and the run record


# The shapes the steps pass around, named once.
Parameters = dict[str, Any]  # the request's `parameters`, checked against `parameters_schema`
ScenarioDoc = dict[str, Any]  # one scenario, checked against `scenario_schema`
Scenarios = list[ScenarioDoc]  # the request's scenarios (the baseline is not one of them)
PlanDoc = dict[str, Any]  # `Planned.plan`: given back to the later steps
MeasuresByScenario = Mapping[str, Mapping[str, Measure]]  # baseline first


class ModelRunner(Protocol):
    """A model's run module: the steps of `ModelDefinition` that need numpy and pyarrow, imported only
    when a run needs them (`ModelDefinition.runner`)."""

    def plan(
        self, inputs: InputFiles, parameters: Parameters, scenarios: Scenarios, store: RunStorage, n: int, /
    ) -> Planned:
        """`ModelDefinition.plan`'s work, `n` being the run's simulations."""

    def simulate_chunk(
        self, store: RunStorage, plan: PlanDoc, scenario: str, simulations: range, seed: int, /
    ) -> pa.Table: ...

    def measures(
        self, store: RunStorage, plan: PlanDoc, scenario: str, results: pa.Table, /
    ) -> dict[str, Measure]: ...

    def charts(self, plan: PlanDoc, measures: MeasuresByScenario, /) -> dict[str, bytes]: ...

    def fitted_tables(self, inputs: InputFiles, parameters: Parameters, /) -> dict[str, pa.Table]: ...


class ModelDefinition:
    """A statistical model the platform can run (see the module docstring for the steps).

    A model subclasses it, declares what is its own (the attributes without a default, and `runner`:
    its run module) and overrides a hook below only where it differs from the common case."""

    name: str
    title: str
    version: str
    description: str
    stochastic: bool = True
    inputs: tuple[InputRole, ...]
    parameters_schema: dict[str, Any]  # JSON Schema of the `parameters` object, with defaults
    scenario_schema: dict[str, Any]  # JSON Schema of one scenario (an object with a `name`)
    outputs: tuple[OutputTable, ...]
    headline: str  # the output `witan model run` prints when it finishes (a short one)
    chains: Mapping[str, ChainAdapter] = MappingProxyType({})  # input role -> another model's output
    flag_aliases: Mapping[str, tuple[str, ...]] = MappingProxyType({})  # parameter -> more CLI flags

    def runner(self) -> ModelRunner:
        """The model's run module (imported here, not at module level)."""
        raise NotImplementedError(f"{type(self).__name__} names no run module")

    def check_request(self, parameters: Parameters, scenarios: Scenarios) -> None:
        """Checks needing no inputs (raise ModelInputError): the API answers 422 before any work."""

    def is_stochastic(self, parameters: Parameters) -> bool:
        """Whether a run with these parameters simulates (`stochastic` says whether it can): a model
        with deterministic modes (the children's model's exact variance) runs one path per scenario."""
        return self.stochastic

    def plan(
        self,
        inputs: InputFiles,
        parameters: Parameters,
        scenarios: Scenarios,
        store: RunStorage,
        *,
        simulations: int,
        seed: int,
    ) -> Planned:
        """Read the inputs, fit once (baseline and every scenario), store what chunks need under
        `params/` in `store`. Raise ModelInputError naming file, row and column for bad input.
        (`seed` is for a model that draws while fitting; none does yet.)"""
        return self.runner().plan(inputs, parameters, scenarios, store, simulations)

    def simulate(
        self, store: RunStorage, plan: PlanDoc, scenario: str, simulations: range, seed: int
    ) -> pa.Table:
        """One chunk: the scenario's results for these simulations (a `simulation` column), as one
        table. A simulation's result must not depend on the chunk that ran it."""
        return self.runner().simulate_chunk(store, plan, scenario, simulations, seed)

    def measures(
        self, store: RunStorage, plan: PlanDoc, scenario: str, results: pa.Table
    ) -> dict[str, Measure]:
        """Every output table of one scenario from its chunks' results (concatenated)."""
        return self.runner().measures(store, plan, scenario, results)

    def charts(self, plan: PlanDoc, measures: MeasuresByScenario) -> dict[str, bytes]:
        """PNG charts, key (under charts/) -> bytes, from every scenario's measures (baseline first)."""
        return self.runner().charts(plan, measures)

    def fitted_tables(self, inputs: InputFiles, parameters: Parameters) -> dict[str, pa.Table]:
        """The fitted parameters as tables (`witan model params NAME` writes each as CSV and Parquet)."""
        return self.runner().fitted_tables(inputs, parameters)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The model's own `witan model run NAME` flags: one per scalar parameter (its schema's type,
        bounds and description); a model adds flags for the others."""
        add_parameter_flags(parser, self.name, self.parameters_schema, self.flag_aliases)

    def parameters_from_args(self, args: argparse.Namespace) -> Parameters:
        """`parameters` from the model's own flags (only those given; defaults come from the schema)."""
        return parameters_from_flags(args, self.parameters_schema)
