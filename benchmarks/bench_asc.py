"""Adult social care model speed: fitting a council of about 10,000 people from two years of quarterly
CLD (eight files), and 1000 simulations of 10 years on one core. Uses generated CLD (witan.models.asc
.synthetic): there is no public CLD sample.

Targets: fit (read, derive states and flows, fit) < 5 s; 1000 x 10-year simulations < 5 s of one core.
Times are CPU seconds of this process (the machine may be shared); wall time is printed beside them.
"""

from __future__ import annotations

import time

FIT_TARGET = 5.0
SIMULATE_TARGET = 5.0
ADULTS = 450_000  # a council of about 10,000 people in long-term support over two years
SIMULATIONS, YEARS = 1000, 10


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    from witan.modelrun.definition import InputFile
    from witan.models.asc.fit import derive, fit
    from witan.models.asc.inputs import read_cld, read_population
    from witan.models.asc.scenarios import prepare
    from witan.models.asc.simulate import simulate
    from witan.models.asc.synthetic import SyntheticSpec, generate

    syn = generate(SyntheticSpec(adults=ADULTS, years=2, seed=1))
    files = [InputFile(k, v) for k, v in syn.files.items()]
    size = sum(len(f.data) for f in files)

    def fit_all():  # type: ignore[no-untyped-def]
        cld = read_cld(files)
        pop = read_population(InputFile("population.csv", syn.population_csv))
        derived = derive(cld, pop)
        return derived, fit(derived.states, derived.flows, pop), len(cld.rows)

    fit_all()  # warm imports and caches: the figure is the steady cost of a fit
    (derived, fitted, rows), fit_cpu, fit_wall = _timed(fit_all)
    people = len(derived.states.people.ids)
    prep = prepare(None, fitted.last_year + 1, YEARS)
    _, sim_cpu, sim_wall = _timed(simulate, fitted, prep, YEARS, 0, range(SIMULATIONS))
    ok_fit, ok_sim = fit_cpu < FIT_TARGET, sim_cpu < SIMULATE_TARGET
    print(
        f"CLD: {len(files)} quarterly files, {size / 1e6:.1f} MB, {rows:,} services kept, {people:,} people"
    )
    print(f"{'step':<44}{'cpu s':>8}{'wall s':>8}{'target':>8}  ok")
    label = "fit (read, states, flows, parameters)"
    print(f"{label:<44}{fit_cpu:>8.2f}{fit_wall:>8.2f}{FIT_TARGET:>8.1f}  {ok_fit}")
    label = f"{SIMULATIONS} simulations x {YEARS} years"
    print(f"{label:<44}{sim_cpu:>8.2f}{sim_wall:>8.2f}{SIMULATE_TARGET:>8.1f}  {ok_sim}")
    return 0 if ok_fit and ok_sim else 1


if __name__ == "__main__":
    raise SystemExit(main())
