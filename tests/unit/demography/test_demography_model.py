"""The projection on generated data: councils independent, the arithmetic by hand on a tiny case,
scenarios changing what they should."""

from __future__ import annotations

import numpy as np
import pytest
from demography_fixtures import only_councils, tiny_files
from witan.models.demography.inputs import read_inputs
from witan.models.demography.projection import (
    fit,
    output_tables,
    population_by_age_group,
    run,
    settings_for,
    total_population,
)
from witan.models.demography.synthetic import council_codes, synthetic_files

F, M = 0, 1
P = 105 / 205


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[str, bytes]]:
    return synthetic_files(3, seed=11)


@pytest.mark.parametrize(
    "parameters",
    [{}, {"fertility_variant": "fixed", "mortality_variant": "trend-applynationaltrend", "last_year": 2030}],
)
def test_councils_projected_together_equal_each_alone(files: dict, parameters: dict) -> None:
    together = run(read_inputs(files), parameters)
    codes = council_codes(3)
    for i, code in enumerate(codes):
        alone = run(read_inputs(only_councils(files, [code])), parameters)
        assert np.array_equal(together.population[i], alone.population[0])
        assert np.array_equal(together.births[i], alone.births[0])
        assert np.array_equal(together.deaths[i], alone.deaths[0])
        assert np.array_equal(together.fitted.mortality_rates[i], alone.fitted.mortality_rates[0])


def test_tiny_case_by_hand() -> None:
    inputs = read_inputs(tiny_files())
    params = {
        "last_year": 2016,
        "fertility_variant": "fixed",
        "mortality_variant": "average-fixed",
        "mortality_years": "2013-2014",
        "migration_years": "2013-2014",
    }
    out = run(inputs, params)
    f = out.fitted
    # r0(F,30) = 10/100; estimated births 0.1 x 100 = 10; actual 82; k = 8.2
    assert f.historic_asfr[0, F, 30] == pytest.approx(0.82, abs=1e-15)
    assert np.count_nonzero(f.historic_asfr) == 1
    # at risk: newborns (F 40, M 42), the cohort a year younger (100), 90+ = 89 + 90+ (200)
    assert f.initial_mortality[0, F, 0] == pytest.approx(1 / 40)
    assert f.initial_mortality[0, M, 0] == pytest.approx(1 / 42)
    assert np.allclose(f.initial_mortality[0, :, 1:90], 0.01)
    assert np.allclose(f.initial_mortality[0, :, 90], 0.005)
    assert np.allclose(f.net_migration, (3 - 1) + (2 - 1))
    births = 0.82 * 100
    assert out.births[0, 0, M] == pytest.approx(P * births)
    assert out.births[0, 0, F] == pytest.approx((1 - P) * births)
    pop = out.population[0, 0]
    assert pop[F, 0] == pytest.approx((1 - P) * births - 100 / 40 + 3)
    assert pop[M, 0] == pytest.approx(P * births - 100 / 42 + 3)
    assert np.allclose(pop[:, 1:90], 100 - 1 + 3)
    assert np.allclose(pop[:, 90], 200 - 0.5 + 3)
    # 2016: births from the 2015 women of 30 (102); age 30 from age 29 (102), deaths on 102
    assert out.births[0, 1].sum() == pytest.approx(0.82 * 102)
    assert out.population[0, 1, F, 30] == pytest.approx(102 - 1.02 + 3)
    assert out.population[0, 1, F, 1] == pytest.approx(pop[F, 0] - 0.01 * 102 + 3)
    assert out.deaths[0, 1, F, 1] == pytest.approx(0.01 * 102)  # the unaged population at age 1
    tables = output_tables(inputs, out)
    assert tables["population"].num_rows == 182 * 5  # 2012-2014, then 2015-2016
    assert tables["births"].num_rows == 2 * 4  # 2013-2014, then 2015-2016
    assert tables["deaths"].num_rows == tables["net_migration"].num_rows == 182 * 2
    total = total_population(tables["population"])
    assert total.column("population").to_pylist()[:3] == [18200.0] * 3
    groups = population_by_age_group(tables["population"])
    assert groups.column("age_group").to_pylist()[:3] == ["0-15", "16-64", "65+"]
    assert groups.column("population").to_pylist()[:3] == [3200.0, 9800.0, 5200.0]


def test_national_trend_ratios_applied_year_on_year() -> None:
    inputs = read_inputs(tiny_files())
    fixed = fit(inputs, settings_for(inputs, {"last_year": 2020, "fertility_variant": "fixed"}))
    trend = fit(inputs, settings_for(inputs, {"last_year": 2020}))
    ratio = trend.fertility_rates[0, :, F, 30] / fixed.fertility_rates[0, :, F, 30]
    # the synthetic 2012-based trend at age 30: (110 (1 - 0.001 t) + 0.5)(1 + 0.0005 t), t = year - 2001
    t = np.arange(2015, 2021) - 2001
    national = (110 * (1 - 0.001 * t) + 0.5) * (1 + 0.0005 * t)
    assert np.allclose(ratio, national / national[0], rtol=1e-12)
    m = trend.mortality_rates[0, :, M, 50] / trend.mortality_rates[0, 0, M, 50]
    assert np.allclose(m, 0.985 ** np.arange(6), rtol=1e-12)  # 1.5% improvement a year


def test_scenarios_change_what_they_should(files: dict) -> None:
    inputs = read_inputs(files)
    base = run(inputs, {"last_year": 2025})
    high_fert = run(inputs, {"last_year": 2025}, {"name": "hf", "fertility_scenario": "high-2012"})
    assert np.array_equal(high_fert.births[:, 0], base.births[:, 0])  # the trend applies after the first year
    assert np.all(high_fert.births[:, 1:].sum(axis=2) > base.births[:, 1:].sum(axis=2))
    assert np.array_equal(high_fert.fitted.mortality_rates, base.fitted.mortality_rates)
    high_mort = run(inputs, {"last_year": 2025}, {"name": "hm", "mortality_scenario": "high"})
    assert np.array_equal(high_mort.deaths[:, 0], base.deaths[:, 0])  # the first year is the local rate
    assert np.all(high_mort.deaths[:, -1].sum(axis=(1, 2)) > base.deaths[:, -1].sum(axis=(1, 2)))
    none_in = run(inputs, {"last_year": 2025}, {"name": "n", "in_migrant_multiplier": 0.0, "from_year": 2020})
    before = slice(0, 5)  # 2015-2019
    assert np.array_equal(none_in.population[:, before], base.population[:, before])
    intin = base.fitted.migration_means["international_in"]
    assert np.allclose(none_in.fitted.net_migration[:, 5:], base.fitted.net_migration[:, 5:] - intin[:, None])
    assert np.all(none_in.population[:, -1].sum(axis=(1, 2)) < base.population[:, -1].sum(axis=(1, 2)))
    window = run(inputs, {"last_year": 2025}, {"name": "w", "migration_years": "2010-2014"})
    assert window.fitted.settings.migration_years == (2010, 2014)
    assert not np.array_equal(window.fitted.net_migration, base.fitted.net_migration)
    assert np.array_equal(window.fitted.fertility_rates, base.fitted.fertility_rates)


def test_domestic_duplicates_are_row_means() -> None:
    once = run(read_inputs(synthetic_files(2, seed=3)), {"last_year": 2020})
    twice = run(read_inputs(synthetic_files(2, seed=3, duplicate_domestic=True)), {"last_year": 2020})
    assert np.array_equal(once.population, twice.population)


def test_defaults_follow_the_data(files: dict) -> None:
    s = settings_for(read_inputs(files), {})
    assert (s.first_year, s.last_year, s.fertility_base_year) == (2015, 2040, 2014)
    assert s.mortality_years == (2010, 2014) and s.migration_years == (2003, 2014)
    assert (s.fertility_variant, s.fertility_scenario) == ("applynationaltrend", "principal-2012")
    assert (s.mortality_variant, s.mortality_scenario) == ("average-applynationaltrend", "principal")


def test_defaults_use_only_years_before_the_first_projected(files: dict) -> None:
    s = settings_for(read_inputs(files), {"first_year": 2011, "last_year": 2014})
    assert (s.fertility_base_year, s.mortality_years, s.migration_years) == (2010, (2006, 2010), (2001, 2010))
    out = run(read_inputs(files), {"first_year": 2011, "last_year": 2014})
    tables = output_tables(read_inputs(files), out)
    years = sorted(set(tables["population"].column("year").to_pylist()))
    assert years == list(range(2001, 2015))  # 2001-2010 historic, 2011-2014 projected
