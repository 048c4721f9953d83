"""Fitting the SEND model's Beta and Dirichlet parameters (method: docs/models/send.md).

Parameters are dense numpy arrays over (academic year, NEED-SETTING) so that simulation is
array arithmetic; tables (pyarrow) are only for writing them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from witan.models.send.inputs import (
    MAX_ACADEMIC_YEAR,
    NONSEND,
    ModelInputError,
    SendInputs,
    Transitions,
    ValidSetting,
)


@dataclass(frozen=True)
class StateSpace:
    """Academic years ay_min..20 and NEED-SETTING states; state k = need index * |settings| + setting."""

    ay_min: int
    needs: tuple[str, ...]
    settings: tuple[str, ...]

    @property
    def academic_years(self) -> npt.NDArray[np.int64]:
        return np.arange(self.ay_min, MAX_ACADEMIC_YEAR + 1)

    @property
    def n_ay(self) -> int:
        return MAX_ACADEMIC_YEAR - self.ay_min + 1

    @property
    def n_states(self) -> int:
        return len(self.needs) * len(self.settings)

    def state_names(self) -> list[str]:
        return [f"{n}-{s}" for n in self.needs for s in self.settings]

    def state_index(self, need: str, setting: str) -> int:
        return self.needs.index(need) * len(self.settings) + self.settings.index(setting)

    def split(self, state: str) -> tuple[str, str]:
        need, _, setting = state.partition("-")
        return need, setting

    def to_dict(self) -> dict[str, object]:
        return {"ay_min": self.ay_min, "needs": list(self.needs), "settings": list(self.settings)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StateSpace:
        return cls(int(d["ay_min"]), tuple(d["needs"]), tuple(d["settings"]))

    @classmethod
    def from_inputs(cls, inputs: SendInputs) -> StateSpace:
        t = inputs.transitions
        send_ays = np.concatenate([t.ay1[t.setting1 != NONSEND], t.ay2[t.setting2 != NONSEND]])
        lo = min([v.min_ay for v in inputs.valid_states] + ([int(send_ays.min())] if len(send_ays) else []))
        return cls(lo, inputs.needs, inputs.settings)


def valid_mask(space: StateSpace, valid: tuple[ValidSetting, ...]) -> npt.NDArray[np.bool_]:
    """valid[a, n, s]: whether NEED n in SETTING s at academic year index a is a valid state."""
    out = np.zeros((space.n_ay, len(space.needs), len(space.settings)), dtype=bool)
    for v in valid:
        s = space.settings.index(v.setting)
        for need in v.needs:
            out[v.min_ay - space.ay_min : v.max_ay - space.ay_min + 1, space.needs.index(need), s] = True
    return out


def moves_mask(space: StateSpace, valid: tuple[ValidSetting, ...]) -> npt.NDArray[np.bool_]:
    """moves[s, s2]: whether a mover from setting s may go to setting s2 (`setting->setting`)."""
    out = np.zeros((len(space.settings), len(space.settings)), dtype=bool)
    for v in valid:
        for m in v.moves_to:
            out[space.settings.index(v.setting), space.settings.index(m)] = True
    return out


@dataclass
class SendParameters:
    """Fitted parameters; arrays indexed [academic year index, state] (joiners: by the year joined)."""

    space: StateSpace
    leaver_alpha: npt.NDArray[np.float64]
    leaver_beta: npt.NDArray[np.float64]
    mover_alpha: npt.NDArray[np.float64]
    mover_beta: npt.NDArray[np.float64]
    mover_dest: npt.NDArray[np.float64]  # [a, k, k2] Dirichlet alphas over destination states
    joiner_alpha: npt.NDArray[np.float64]  # [a]
    joiner_beta: npt.NDArray[np.float64]
    joiner_state: npt.NDArray[np.float64]  # [a, k] Dirichlet alphas
    valid: npt.NDArray[np.bool_]  # [a, k]
    closed: npt.NDArray[np.bool_]  # [a, k]: closed settings

    @property
    def can_move(self) -> npt.NDArray[np.bool_]:
        """[a, k]: whether any destination is possible (cached: simulation asks every step)."""
        cached: npt.NDArray[np.bool_] | None = self.__dict__.get("_can_move")
        if cached is None:
            cached = self.__dict__["_can_move"] = self.mover_dest.sum(axis=2) > 0
        return cached

    @property
    def leaves_all(self) -> npt.NDArray[np.bool_]:
        """[a, k]: cells everyone leaves: closed settings. (Children who age into a state not valid at
        their new academic year are kept, with prior-only parameters: witan.send's totals match that.)"""
        return self.closed

    @property
    def placements(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Sparse rows (indptr, columns, alphas) of the Dirichlets that place children: rows a * K + k are
        mover destinations from (a, k); rows A * K + a are joiner states at a. Cached."""
        cached: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]] | None
        cached = self.__dict__.get("_placements")
        if cached is None:
            n_ay, n_k = self.valid.shape
            dense = np.concatenate([self.mover_dest.reshape(n_ay * n_k, n_k), self.joiner_state])
            rows, cols = np.nonzero(dense)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(dense)))])
            cached = self.__dict__["_placements"] = (indptr, cols, dense[rows, cols])
        return cached

    @property
    def joins(self) -> npt.NDArray[np.bool_]:
        """[a]: academic years joiners can arrive at."""
        joins: npt.NDArray[np.bool_] = (self.joiner_alpha > 0) & (self.joiner_state.sum(axis=1) > 0)
        return joins


def _codes(values: npt.NDArray[np.object_], names: tuple[str, ...]) -> npt.NDArray[np.int64]:
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup.get(v, -1) for v in values], dtype=np.int64)


def _normalised_prior(
    hits: npt.NDArray[np.float64], misses: npt.NDArray[np.float64], empty: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per academic year: (hits + 0.5, misses + 0.5) scaled to sum 1, or (empty, empty) without data."""
    h, m = hits.sum(axis=1), misses.sum(axis=1)
    total = h + m + 1.0
    has = (h + m) > 0
    return np.where(has, (h + 0.5) / total, empty), np.where(has, (m + 0.5) / total, empty)


def fit(
    inputs: SendInputs, transitions: Transitions | None = None, closed_settings: tuple[str, ...] = ()
) -> SendParameters:
    """Fit on `transitions` (default: the inputs' own; scenarios pass modified ones).

    Joiner *rates* always come from the inputs' unmodified transitions, as in witan.send.
    """
    space = StateSpace.from_inputs(inputs)
    t = inputs.transitions if transitions is None else transitions
    n_ay, n_need, n_set = space.n_ay, len(space.needs), len(space.settings)
    n_k = n_need * n_set
    s1, s2 = _codes(t.setting1, space.settings), _codes(t.setting2, space.settings)
    k1 = np.where(s1 >= 0, _codes(t.need1, space.needs) * n_set + s1, -1)
    k2 = np.where(s2 >= 0, _codes(t.need2, space.needs) * n_set + s2, -1)
    a1, a2, w = t.ay1 - space.ay_min, t.ay2 - space.ay_min, t.weight

    send1 = s1 >= 0
    leaver = send1 & (s2 < 0)
    stays_send = send1 & (s2 >= 0)
    mover = stays_send & (s1 != s2)
    joiner = (s1 < 0) & (s2 >= 0)

    def dense(
        mask: npt.NDArray[np.bool_], a: npt.NDArray[np.int64], k: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        out = np.zeros((n_ay, n_k))
        np.add.at(out, (a[mask], k[mask]), w[mask])
        return out

    leavers, stayers_all = dense(leaver, a1, k1), dense(stays_send, a1, k1)
    movers, non_movers = dense(mover, a1, k1), dense(stays_send & ~mover, a1, k1)

    la_prior, lb_prior = _normalised_prior(leavers, stayers_all, 0.5)
    ma_prior, mb_prior = _normalised_prior(movers, non_movers, 1.0)

    valid3 = valid_mask(space, inputs.valid_states)
    if closed_settings:
        valid3[:, :, [space.settings.index(c) for c in closed_settings]] = False
    moves = moves_mask(space, inputs.valid_states)

    # Mover destinations. Pooled destination-setting counts per academic year, falling back to ay-1.
    pooled = np.zeros((n_ay, n_set))
    np.add.at(pooled, (a1[mover], s2[mover]), w[mover])
    for i in range(1, n_ay):
        if pooled[i].sum() == 0:
            pooled[i] = pooled[i - 1] if pooled[i - 1].sum() > 0 else 0.0
    # allowed[a, n, s, s2] = valid for need n at a  AND  s -> s2 listed.
    allowed = valid3[:, :, None, :] & moves[None, None, :, :]
    n_allowed = allowed.sum(axis=3, keepdims=True)
    prior = np.where(allowed, 1.0 / np.maximum(n_allowed, 1), 0.0) + pooled[:, None, None, :]
    same = np.eye(n_set, dtype=bool)[None, None, :, :]
    prior = np.where(same, 0.0, prior)
    if closed_settings:
        prior[..., [space.settings.index(c) for c in closed_settings]] = 0.0
    total = prior.sum(axis=3, keepdims=True)
    prior = np.divide(prior, total, out=np.zeros_like(prior), where=total > 0)
    by_need = np.zeros((n_ay, n_need, n_set, n_need, n_set))
    for n in range(n_need):  # prior mass stays on the mover's own need
        by_need[:, n, :, n, :] = prior[:, n, :, :]
    dest = by_need.reshape(n_ay, n_k, n_k)
    np.add.at(dest, (a1[mover], k1[mover], k2[mover]), w[mover])
    if closed_settings:
        closed_k = [k for k in range(n_k) if space.settings[k % n_set] in closed_settings]
        dest[:, :, closed_k] = 0.0

    # Joiner rates from the unmodified transitions, over the population of each historic year.
    base = inputs.transitions
    bs1, bs2 = _codes(base.setting1, space.settings), _codes(base.setting2, space.settings)
    bjoin = (bs1 < 0) & (bs2 >= 0)
    years = sorted(set(base.calendar_year.tolist()))
    joiner_alpha, joiner_beta = np.zeros(n_ay), np.zeros(n_ay)
    join_years = valid3.reshape(n_ay, n_k).any(axis=1)
    for a in np.flatnonzero(join_years):
        ay = int(a + space.ay_min)
        for cy in years:
            pop = inputs.population.get((cy, ay))
            if pop is None:
                raise ModelInputError(
                    inputs.file("population"),
                    f"no population for calendar year {cy}, academic year {ay} (needed to fit joiner rates)",
                    column="population",
                    code="missing-population",
                )
            j = int(np.count_nonzero(bjoin & (base.calendar_year == cy) & (base.ay2 == ay)))
            if j > pop:
                raise ModelInputError(
                    inputs.file("population"),
                    f"{j} joiners in calendar year {cy}, academic year {ay} exceed the population {pop}",
                    column="population",
                    code="too-many-joiners",
                )
            joiner_alpha[a] += j / len(years) if j else 0.001
            joiner_beta[a] += (pop - j) / len(years)

    valid = valid3.reshape(n_ay, n_k)
    n_valid = valid.sum(axis=1, keepdims=True)
    joiner_state = np.where(valid, 1.0 / np.maximum(n_valid, 1), 0.0)
    np.add.at(joiner_state, (a2[joiner], k2[joiner]), w[joiner])
    if closed_settings:
        joiner_state[:, closed_k] = 0.0

    closed = np.zeros((n_ay, n_k), dtype=bool)
    if closed_settings:
        closed[:, closed_k] = True
    return SendParameters(
        space,
        leavers + la_prior[:, None],
        stayers_all + lb_prior[:, None],
        movers + ma_prior[:, None],
        non_movers + mb_prior[:, None],
        dest,
        joiner_alpha,
        joiner_beta,
        joiner_state,
        valid,
        closed,
    )


# --- tables -----------------------------------------------------------------------------------------


def parameter_tables(p: SendParameters, valid_only: bool = True) -> dict[str, pa.Table]:
    """Long tables of the parameters (states as NEED-SETTING). `valid_only=False` keeps every cell so
    that `parameters_from_tables` rebuilds the arrays exactly (what chunk tasks read)."""
    sp = p.space
    names = np.array(sp.state_names(), dtype=object)
    ays = sp.academic_years
    a_idx, k_idx = np.nonzero(p.valid if valid_only else np.ones_like(p.valid))
    beta_cols = {
        "academic_year": pa.array(ays[a_idx], pa.int16()),
        "state": pa.array(names[k_idx], pa.string()),
    }
    leaver = pa.table(
        {**beta_cols, "alpha": p.leaver_alpha[a_idx, k_idx], "beta": p.leaver_beta[a_idx, k_idx]}
    )
    mover = pa.table(
        {
            **beta_cols,
            "alpha": p.mover_alpha[a_idx, k_idx],
            "beta": p.mover_beta[a_idx, k_idx],
            "closed": p.closed[a_idx, k_idx],
        }
    )
    if valid_only:
        mover = mover.drop_columns(["closed"])
    keep = np.zeros_like(p.valid)
    keep[a_idx, k_idx] = True
    da, dk, dk2 = np.nonzero((p.mover_dest > 0) & keep[:, :, None])
    dirichlet = pa.table(
        {
            "academic_year": pa.array(ays[da], pa.int16()),
            "state": names[dk],
            "to_state": names[dk2],
            "alpha": p.mover_dest[da, dk, dk2],
        }
    )
    ja = np.flatnonzero((p.joiner_alpha > 0) | (p.joiner_beta > 0))
    joiner = pa.table(
        {
            "academic_year": pa.array(ays[ja], pa.int16()),
            "alpha": p.joiner_alpha[ja],
            "beta": p.joiner_beta[ja],
        }
    )
    sa, sk = np.nonzero(p.joiner_state > 0)
    joiner_d = pa.table(
        {"academic_year": pa.array(ays[sa], pa.int16()), "state": names[sk], "alpha": p.joiner_state[sa, sk]}
    )
    out = {
        "leaver_beta": leaver,
        "mover_beta": mover,
        "mover_dirichlet": dirichlet,
        "joiner_beta": joiner,
        "joiner_dirichlet": joiner_d,
    }
    if not valid_only:
        va, vk = np.nonzero(p.valid)
        out["valid_states"] = pa.table({"academic_year": pa.array(ays[va], pa.int16()), "state": names[vk]})
    return out


def parameters_from_tables(space: StateSpace, tables: dict[str, pa.Table]) -> SendParameters:
    """Inverse of `parameter_tables(valid_only=False)`."""
    n_ay, n_k = space.n_ay, space.n_states
    index = {n: i for i, n in enumerate(space.state_names())}

    def ak(t: pa.Table, col: str = "state") -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        a = t["academic_year"].to_numpy().astype(np.int64) - space.ay_min
        return a, np.array([index[s] for s in t[col].to_pylist()], dtype=np.int64)

    def grid(t: pa.Table, col: str) -> npt.NDArray[np.float64]:
        out = np.zeros((n_ay, n_k))
        a, k = ak(t)
        out[a, k] = t[col].to_numpy()
        return out

    lt, mt = tables["leaver_beta"], tables["mover_beta"]
    dest = np.zeros((n_ay, n_k, n_k))
    a, k = ak(tables["mover_dirichlet"])
    _, k2 = ak(tables["mover_dirichlet"], "to_state")
    dest[a, k, k2] = tables["mover_dirichlet"]["alpha"].to_numpy()
    jt = tables["joiner_beta"]
    ja, jb = np.zeros(n_ay), np.zeros(n_ay)
    idx = jt["academic_year"].to_numpy().astype(np.int64) - space.ay_min
    ja[idx], jb[idx] = jt["alpha"].to_numpy(), jt["beta"].to_numpy()
    js = np.zeros((n_ay, n_k))
    a, k = ak(tables["joiner_dirichlet"])
    js[a, k] = tables["joiner_dirichlet"]["alpha"].to_numpy()
    valid = np.zeros((n_ay, n_k), dtype=bool)
    a, k = ak(tables["valid_states"])
    valid[a, k] = True
    return SendParameters(
        space,
        grid(lt, "alpha"),
        grid(lt, "beta"),
        grid(mt, "alpha"),
        grid(mt, "beta"),
        dest,
        ja,
        jb,
        js,
        valid,
        grid(mt, "closed") != 0,
    )


def start_population(
    inputs: SendInputs, space: StateSpace, transitions: Transitions | None = None, year: int | None = None
) -> npt.NDArray[np.int64]:
    """Counts [a, k] of the SEND states children reached at the end of `year` (default: the last)."""
    t = inputs.transitions if transitions is None else transitions
    year = int(t.calendar_year.max()) if year is None else year
    rows = (t.calendar_year == year) & (t.setting2 != NONSEND)
    out = np.zeros((space.n_ay, space.n_states), dtype=np.int64)
    n_set = len(space.settings)
    k = _codes(t.need2[rows], space.needs) * n_set + _codes(t.setting2[rows], space.settings)
    np.add.at(out, (t.ay2[rows] - space.ay_min, k), 1)
    return out
