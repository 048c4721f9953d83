"""A demography run's outputs as other models take them (runs that feed runs): one council's rows.

Imports pyarrow only when called: the receiving models' definitions import this module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from witan.modelrun.errors import ModelInputError

if TYPE_CHECKING:
    import pyarrow as pa

# The option an input reference takes to pick a council, as the receiving models document it.
GSS_OPTION = {"gss_code": "the council's GSS code (optional when the run projected only one)"}


def council_rows(
    table: pa.Table, options: Mapping[str, Any], role: str = "population"
) -> tuple[str, pa.Table]:
    """The GSS code asked for (or the only one) and its rows of a demography output table."""
    import pyarrow.compute as pc

    codes = pc.unique(table["gss_code"]).to_pylist()
    gss = options.get("gss_code")
    if gss is None and len(codes) == 1:
        gss = codes[0]
    if gss not in codes:
        listed = sorted(codes)
        raise ModelInputError(
            role,
            f"the demography run has no GSS code {gss!r}; give inputs.{role}.gss_code, one of "
            f"{', '.join(listed[:10])}{'...' if len(listed) > 10 else ''}",
            column="gss_code",
            code="missing-input",
        )
    return str(gss), table.filter(pc.equal(table["gss_code"], gss))
