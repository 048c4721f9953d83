"""Hand-made SEND inputs shared by the tests here (never the witan.send demo data), and where the
witan.send demo folder is looked for by the tests that compare with it (they skip when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

# witan.send's demo inputs and published outputs: EPL data kept outside the repository.
WITAN_SEND_DEMO = Path(
    os.environ.get("WITAN_SEND_DEMO", Path(__file__).resolve().parents[4] / "shared/peers/witan-send-demo")
)

VALID = (
    "setting,setting-group,min-academic-year,max-academic-year,needs,setting->setting\n"
    'A,g,0,2,X,"A,B"\n'
    'B,g,0,2,X,"A,B"\n'
)
# One calendar year (2020), worked through by hand in test_send_fit.py.
TRANSITIONS = (
    "calendar-year,setting-1,need-1,academic-year-1,setting-2,need-2,academic-year-2\n"
    "2020,A,X,0,A,X,1\n"  # stayer
    "2020,A,X,0,B,X,1\n"  # mover A -> B
    "2020,A,X,0,NONSEND,NONSEND,1\n"  # leaver
    "2020,B,X,0,B,X,1\n"  # stayer
    "2020,NONSEND,NONSEND,0,A,X,1\n"  # joiner into ay 1
    "2020,A,X,1,A,X,2\n"  # stayer
)
COSTS = "need,setting,cost\nX,A,10\nX,B,20\n"


def population(years: range = range(2020, 2024), ays: range = range(-1, 4), size: int = 100) -> str:
    return "calendar-year,academic-year,population\n" + "".join(
        f"{y},{a},{size}\n" for y in years for a in ays
    )


def write_inputs(directory: Path, **overrides: str) -> Path:
    """The hand-made inputs, with any table replaced (keys: transitions, population, costs, valid_states)."""
    tables = {"transitions": TRANSITIONS, "population": population(), "costs": COSTS, "valid-states": VALID}
    tables.update({k.replace("_", "-"): v for k, v in overrides.items()})
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (directory / f"{name}.csv").write_text(text, encoding="utf-8")
    return directory


def send_files(directory: Path) -> dict:  # type: ignore[type-arg]
    """The platform's view of an inputs folder: role -> [InputFile]."""
    from witan.modelrun.inputs import read_role_files
    from witan.modelrun.registry import get_model

    return read_role_files(get_model("send"), directory)


def send_request(run_id: str, simulations: int, seed: int, chunk: int, scenarios=(), **parameters):  # type: ignore[no-untyped-def]
    from witan.modelrun.request import RunRequest

    return RunRequest.build(
        run_id,
        "send",
        parameters=parameters,
        scenarios=[s.to_dict() if hasattr(s, "to_dict") else s for s in scenarios],
        simulations=simulations,
        seed=seed,
        chunk_size=chunk,
    )
