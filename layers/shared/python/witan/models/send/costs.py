"""Costs per child per year for each NEED-SETTING state (missing costs count as 0, with a warning
raised when the inputs are read)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from witan.models.send.fit import StateSpace


def cost_vector(costs: dict[tuple[str, str], float], space: StateSpace) -> npt.NDArray[np.float64]:
    return np.array([costs.get((n, s), 0.0) for n in space.needs for s in space.settings], dtype=np.float64)
