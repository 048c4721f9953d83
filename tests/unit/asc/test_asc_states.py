"""Derivation: hand-made CLD histories with known 31 March states (LTS001b rules, note section 2)."""

from __future__ import annotations

import numpy as np
from asc_fixtures import COMMUNITY, NURSING, RESIDENTIAL, cld_file, population_csv
from witan.modelrun.definition import InputFile
from witan.models.asc.fit import derive, fit, fitted_tables
from witan.models.asc.flows import weeks_in_year
from witan.models.asc.inputs import SETTINGS, read_cld, read_population
from witan.models.asc.states import DIED, NONE, OUT, States, derive_states, snapshot_day

Q1, Q4 = "2023-06-30", "2024-03-31"  # quarters covering 31 March 2023 and 31 March 2024


def states_of(*files: InputFile) -> tuple[States, dict[str, list[str]]]:
    st = derive_states(read_cld(list(files)))
    names = {NONE: "none", DIED: "died", OUT: "out"}
    out = {
        str(pid): [SETTINGS[s] if s >= 0 else names[int(s)] for s in row]
        for pid, row in zip(st.people.ids, st.state, strict=True)
    }
    return st, out


def test_setting_hierarchy_picks_the_first_in_force() -> None:
    rows = [
        {"id": "A1", "service": COMMUNITY, "mech": "Direct Payment"},
        {"id": "A1", "service": RESIDENTIAL, "mech": ""},
        {"id": "A1", "service": COMMUNITY, "mech": "CASSR Commissioned Support"},
        {"id": "A2", "mech": "CASSR Commissioned Support"},
        {"id": "A2", "mech": "CASSR Managed Personal Budget"},
        {"id": "A3", "mech": ""},
        {"id": "A3", "mech": "CASSR Commissioned Support"},
        {"id": "A4", "service": RESIDENTIAL, "mech": ""},
        {"id": "A4", "service": NURSING, "mech": ""},
        {"id": "A5", "service": "Long Term Support: Prison", "mech": ""},
        {"id": "A6", "service": "Long Term Support: Prison", "mech": ""},
        {"id": "A6", "mech": "Direct Payment"},
    ]
    cld = read_cld([cld_file(rows)])
    st = derive_states(cld)
    states = {
        str(p): [SETTINGS[s] if s >= 0 else "out" for s in row]
        for p, row in zip(st.people.ids, st.state, strict=True)
    }
    assert st.years == [2024]
    assert states == {
        "L:A1": ["residential"],
        "L:A2": ["community-direct-payment"],  # a managed personal budget counts with direct payments
        "L:A3": ["community-commissioned"],
        "L:A4": ["nursing"],
        "L:A5": ["out"],  # prison is out of scope (reported)
        "L:A6": ["community-direct-payment"],
    }
    assert cld.excluded.rows["prison only on 31 March (person-snapshots, 2024)"] == 1


def test_open_ends_deaths_and_duplicates_across_quarterly_files() -> None:
    q1 = [
        {"id": "OPEN", "start": "2022-01-01", "period": Q1},  # open, never seen again: ends 30 June
        {"id": "KEPT", "start": "2022-01-01", "period": Q1},  # open in both files
        {"id": "DUP", "start": "2022-01-01", "period": Q1},  # open in Q1, ended in Q4's file
        {"id": "DEAD", "start": "2022-01-01", "service": NURSING, "mech": "", "period": Q1},
    ]
    q4 = [
        {"id": "KEPT", "start": "2022-01-01", "period": Q4},
        {"id": "DUP", "start": "2022-01-01", "end": "2024-01-15", "period": Q4},
        {
            "id": "DEAD",
            "start": "2022-01-01",
            "service": NURSING,
            "mech": "",
            "death": "2024-01-10",
            "period": Q4,
        },
    ]
    cld = read_cld([cld_file(q1, "cld_1.csv"), cld_file(q4, "cld_4.csv")])
    st = derive_states(cld)
    names = dict(zip(st.people.ids.tolist(), st.state.tolist(), strict=True))
    assert st.years == [2023, 2024]
    assert names["L:OPEN"] == [3, NONE]
    assert names["L:KEPT"] == [3, 3]
    assert names["L:DUP"] == [3, NONE]
    assert names["L:DEAD"] == [0, DIED]
    assert cld.excluded.rows["same service in a later submission (duplicate across quarterly files)"] == 3
    # The death ends the open nursing service: weeks in the year run to the date of death.
    weeks = weeks_in_year(st, snapshot_day(2023), snapshot_day(2024))
    dead = list(st.people.ids).index("L:DEAD")
    assert weeks[dead, 0] == (np.datetime64("2024-01-10") - np.datetime64("2023-03-31")).astype(int) / 7
    opened = list(st.people.ids).index("L:OPEN")
    assert weeks[opened, 3] == 91 / 7  # 1 April to 30 June


def test_a_resubmitted_period_is_taken_from_the_later_file() -> None:
    first = [{"id": "R", "start": "2022-01-01", "period": Q4}]
    second = [{"id": "R", "start": "2022-01-01", "end": "2023-12-01", "period": Q4}]
    cld = read_cld([cld_file(second, "cld_b.csv"), cld_file(first, "cld_a.csv")])  # any order given
    st = derive_states(cld)
    assert st.state.tolist() == [[NONE]]
    assert cld.excluded.rows["period resubmitted in a later file"] == 1


def test_overlapping_services_count_once_and_weeks_are_a_union() -> None:
    rows = [
        {"id": "O", "service": RESIDENTIAL, "mech": "", "start": "2023-04-01", "end": "2023-09-30"},
        {"id": "O", "service": RESIDENTIAL, "mech": "", "start": "2023-07-01", "end": ""},
    ]
    st, states = states_of(cld_file(rows))
    assert states == {"L:O": ["residential"]}
    weeks = weeks_in_year(st, snapshot_day(2023), snapshot_day(2024))
    assert weeks[0, 1] == 366 / 7  # 1 April 2023 to 31 March 2024, once


def test_reason_prefers_known_then_latest_start_and_changes_between_years() -> None:
    rows = [
        # known beats unknown
        {"id": "K", "psr": "Unknown", "start": "2023-01-01", "period": Q1},
        {"id": "K", "psr": "Mental Health Support", "start": "2022-01-01", "period": Q1},
        # the latest start wins among known reasons
        {"id": "L", "psr": "Learning Disability Support", "start": "2020-01-01", "period": Q1},
        {"id": "L", "psr": "Support with Memory & Cognition", "start": "2021-01-01", "period": Q1},
        # two reasons still tied: unknown
        {
            "id": "T",
            "psr": "Learning Disability Support",
            "start": "2020-01-01",
            "component": "a",
            "period": Q1,
        },
        {"id": "T", "psr": "Mental Health Support", "start": "2020-01-01", "component": "b", "period": Q1},
        # a new service with another reason: the reason changes at the next snapshot
        {"id": "C", "psr": "Physical Support: Access & mobility only", "end": "2023-08-01", "period": Q4},
        {
            "id": "C",
            "psr": "Sensory Support: Support for dual impairment",
            "start": "2023-08-02",
            "period": Q4,
        },
        {"id": "K", "psr": "Unknown", "start": "2023-01-01", "period": Q4},
        {"id": "K", "psr": "Mental Health Support", "start": "2022-01-01", "period": Q4},
    ]
    st = derive_states(read_cld([cld_file(rows)]))
    reasons = {
        str(p): [
            ("-" if r < 0 else ("physical", "sensory", "memory", "ld", "mh", "social", "unknown")[r])
            for r in row
        ]
        for p, row in zip(st.people.ids, st.reason, strict=True)
    }
    assert reasons == {
        "L:K": ["mh", "mh"],
        "L:L": ["memory", "-"],
        "L:T": ["unknown", "-"],
        "L:C": ["physical", "sensory"],
    }


def test_nhs_number_first_and_council_ids_that_would_double_count_are_dropped() -> None:
    rows = [
        {"id": "A1", "nhs": "1111111111"},
        {"id": "A1", "nhs": "", "service": RESIDENTIAL, "mech": ""},  # same council id, no NHS number
        {"id": "B1", "nhs": ""},  # only ever a council id: placed by it
        {"id": "A7", "nhs": "2222222222"},
        {"id": "A8", "nhs": "2222222222", "service": NURSING, "mech": ""},  # two council ids, one person
    ]
    cld = read_cld([cld_file(rows)])
    st = derive_states(cld)
    states = dict(zip(st.people.ids.tolist(), st.state[:, 0].tolist(), strict=True))
    assert states == {"N:1111111111": 3, "L:B1": 3, "N:2222222222": 0}
    why = "no NHS number and the council id also appears with one (cannot be placed without double counting)"
    assert cld.excluded.rows[why] == 1
    assert len(cld.excluded.people[why]) == 1


def test_release_2_values_and_underscore_names_give_the_same_states() -> None:
    r1 = [
        {"id": "X", "service": NURSING, "mech": "", "psr": "Support with Memory & Cognition"},
        {"id": "Y", "mech": "Direct Payment", "psr": "Learning Disability Support", "client": "Service User"},
    ]
    r2 = [
        {
            "id": "X",
            "service": "Long term support: Nursing care",
            "mech": "",
            "psr": "Support with memory and cognition",
        },
        {
            "id": "Y",
            "mech": "Direct payment",
            "psr": "Learning disability support",
            "client": "Service user",
            "dob": "10/05/1940",
            "start": "01/06/2022",
            "period": "31/03/2024",
        },
    ]
    a = derive_states(read_cld([cld_file(r1)]))
    b = derive_states(read_cld([cld_file(r2, underscore=True)]))
    assert a.state.tolist() == b.state.tolist() == [[0], [2]]
    assert a.reason.tolist() == b.reason.tolist()
    assert a.band.tolist() == b.band.tolist()


def test_birth_year_and_month_columns_and_ages() -> None:
    cols = (
        "LA Person Unique Identifier",
        "Der_Birth_Year",
        "Der_Birth_Month",
        "Client Type",
        "Primary Support Reason",
        "Event Type",
        "Event Start Date",
        "Event End Date",
        "Service Type",
        "Reporting Period End Date",
    )
    text = "\n".join(
        [
            ",".join(cols),
            "P,1999,3,Service User,Unknown,Service,2022-01-01,,Long Term Support: Community,2024-03-31",
            "Q,1999,4,Service User,Unknown,Service,2022-01-01,,Long Term Support: Community,2024-03-31",
            "C,2008,1,Service User,Unknown,Service,2022-01-01,,Long Term Support: Community,2024-03-31",
        ]
    )
    cld = read_cld([InputFile("cld.csv", text.encode())])
    st = derive_states(cld)
    # Born March 1999 (first of the month): 25 on 31 March 2024; April 1999: 24 (9,131 days / 365.25).
    assert dict(zip(st.people.ids.tolist(), st.band[:, 0].tolist(), strict=True)) == {
        "L:P": 1,
        "L:Q": 0,
        "L:C": -1,
    }
    assert st.state[list(st.people.ids).index("L:C"), 0] == OUT
    assert cld.excluded.rows["under 18 on 31 March (person-snapshots, 2024)"] == 1


def test_fitted_tables_count_the_hand_made_moves_and_entries() -> None:
    q1 = [
        {"id": "S", "start": "2020-01-01", "period": Q1},  # stays in community
        {"id": "M", "start": "2020-01-01", "end": "2023-10-01", "period": Q1},
        {"id": "E", "service": RESIDENTIAL, "mech": "", "start": "2020-01-01", "period": Q1},
    ]
    q4 = [
        {"id": "S", "start": "2020-01-01", "period": Q4},
        {"id": "M", "start": "2020-01-01", "end": "2023-10-01", "period": Q4},
        {"id": "M", "service": RESIDENTIAL, "mech": "", "start": "2023-10-02", "period": Q4},  # moved
        {
            "id": "E",
            "service": RESIDENTIAL,
            "mech": "",
            "start": "2020-01-01",
            "end": "2023-05-01",
            "period": Q4,
        },
        {"id": "N", "gender": "Male", "dob": "1990-01-15", "start": "2023-11-01", "period": Q4},  # entered
    ]
    derived = derive(
        read_cld([cld_file(q1, "cld_1.csv"), cld_file(q4, "cld_2.csv")]),
        read_population(InputFile("population.csv", population_csv())),
    )
    t = fitted_tables(derived)
    short = read_population(InputFile("population.csv", population_csv(range(2024, 2030))))
    warned = fit(derived.states, derived.flows, short).warnings
    assert any(w.code == "population-years" and "2023" in w.message for w in warned)
    moves = sorted(
        zip(*(t["moves"][c].to_pylist() for c in ("from_setting", "to_state", "people")), strict=True)
    )
    assert moves == [
        ("community-commissioned", "community-commissioned", 1),
        ("community-commissioned", "residential", 1),
        ("residential", "ended", 1),
    ]
    assert set(t["moves"]["year"].to_pylist()) == {2024}
    entries = t["entries"].to_pylist()
    assert entries == [
        {
            "year": 2024,
            "age_band": "25-44",
            "sex": "M",
            "reason": "physical",
            "setting": "community-commissioned",
            "entries": 1,
            "population": 20000,  # 20 single years x 1,000 (2023's population for the year to March 2024)
            "rate_per_1000": 0.05,
        }
    ]
    snaps = t["snapshots"].to_pylist()
    assert sum(r["clients"] for r in snaps if r["snapshot"] == "2023-03-31") == 3
    assert sum(r["clients"] for r in snaps if r["snapshot"] == "2024-03-31") == 3
    assert t["snapshots"].column_names == ["snapshot", "age_band", "reason", "setting", "clients"]
    assert t["weekly_costs"].column_names == ["setting", "age_group", "weekly_cost", "services"]
    assert t["excluded"].column_names == ["why", "rows", "people"]
