"""Hand-made CLD histories for the adult social care tests (made up here; no real data)."""

from __future__ import annotations

import csv
import io
from typing import Any

from witan.modelrun.definition import InputFile

COLUMNS = (
    "LA Person Unique Identifier",
    "NHS Number",
    "Date of Birth",
    "Gender",
    "Date of Death",
    "Client Type",
    "Primary Support Reason",
    "Event Type",
    "Event Start Date",
    "Event End Date",
    "Service Type",
    "Service Component",
    "Delivery Mechanism",
    "Unit Cost",
    "Cost Frequency (Unit Type)",
    "Planned units per week",
    "Reporting Period End Date",
)
SHORT = {  # short keys used in the tests -> submission column names
    "id": "LA Person Unique Identifier",
    "nhs": "NHS Number",
    "dob": "Date of Birth",
    "gender": "Gender",
    "death": "Date of Death",
    "client": "Client Type",
    "psr": "Primary Support Reason",
    "event": "Event Type",
    "start": "Event Start Date",
    "end": "Event End Date",
    "service": "Service Type",
    "component": "Service Component",
    "mech": "Delivery Mechanism",
    "cost": "Unit Cost",
    "freq": "Cost Frequency (Unit Type)",
    "units": "Planned units per week",
    "period": "Reporting Period End Date",
}
DEFAULTS = {
    "id": "A1",
    "nhs": "",
    "dob": "1940-05-10",
    "gender": "Female",
    "death": "",
    "client": "Service User",
    "psr": "Physical Support: Personal care support",
    "event": "Service",
    "start": "2022-06-01",
    "end": "",
    "service": "Long Term Support: Community",
    "component": "",
    "mech": "CASSR Commissioned Support",
    "cost": "300",
    "freq": "Weekly",
    "units": "1",
    "period": "2024-03-31",
}
NURSING = "Long Term Support: Nursing Care"
RESIDENTIAL = "Long Term Support: Residential Care"
COMMUNITY = "Long Term Support: Community"


def cld_csv(
    rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS, underscore: bool = False
) -> bytes:
    buf = io.StringIO()
    header = [c.replace(" ", "_").replace("(", "").replace(")", "") if underscore else c for c in columns]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    inverse = {v: k for k, v in SHORT.items()}
    for r in rows:
        full = {**DEFAULTS, **r}
        w.writerow([full.get(inverse[c], "") for c in columns])
    return buf.getvalue().encode()


def cld_file(rows: list[dict[str, Any]], name: str = "cld.csv", **kw: Any) -> InputFile:
    return InputFile(name, cld_csv(rows, **kw))


def population_csv(years: range = range(2020, 2040), per_age: int = 1000) -> bytes:
    lines = ["year,sex,age,population"]
    lines += [f"{y},{s},{a},{per_age}" for y in years for s in ("F", "M") for a in range(91)]
    return ("\n".join(lines) + "\n").encode()
