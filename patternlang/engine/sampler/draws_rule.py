"""``draws = auto(z, max)``: when sampling has drawn enough.

After each chunk the caller measures, for every row it needs — each χ row a patterning targets
(the response ``cᵀ·nβχ`` of the target, per data component), or, with no patterning downstream,
the LLC of each center — the largest |z| = |estimate / SE| over its components. Sampling stops
when every row's best |z| reaches ``z`` (:attr:`ChunkCheck.resolved`), or when ``max`` draws are
spent; then each unresolved row is a warning with the draws that would resolve it if the estimate
stayed put. Standard errors shrink as 1/sqrt(draws) once the draws outnumber the autocorrelation
time, so |z| grows as sqrt(draws) and a row at |z_best| after N draws needs about
N·(z / |z_best|)² draws (:func:`draws_needed`).

:func:`sample_until` is the loop for the Python API: :func:`~patternlang.engine.sampler.sgld.run_sgld`
chunk after chunk, each continuing the last (:class:`~patternlang.engine.sampler.chain_state.ChainState`),
so stopping after k chunks gives exactly the numbers of one run of k·chunk draws.

Example::

    check = ChunkCheck(draws=400, best={"raise mean(ih)": 1.5}, z=3.0)
    check.resolved                   # False
    draws_needed(400, 3.0, 1.5)      # 1600
    res, checks = sample_until(model, loss_fn, batch_fn, cfg, z=10, max_draws=2000, chunk=200)
    # stops once the LLC's λ̂ / SE >= 10 (pass measure= for other rows, e.g. from an observer)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from patternlang.engine.sampler.temperature import localization_steps

__all__ = [
    "ChunkCheck",
    "budget_warnings",
    "draws_needed",
    "equilibration_draws",
    "llc_z",
    "sample_until",
]


@dataclass
class ChunkCheck:
    """The rows' best |z| after ``draws`` kept draws per chain (None: no finite z)."""

    draws: int
    best: dict[str, float | None]
    z: float
    min_draws: int = 0  # :func:`equilibration_draws`: no z is trusted before the chains ran that long

    @property
    def equilibrated(self) -> bool:
        return self.draws >= self.min_draws

    @property
    def resolved(self) -> bool:
        """Every row has a component with |z| >= z (and there is at least one row), after the
        chains have run their equilibration time."""
        return self.equilibrated and bool(self.best) and \
            all(b is not None and b >= self.z for b in self.best.values())

    def to_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "best_abs_z": dict(self.best), "resolved": self.resolved,
                "equilibrated": self.equilibrated}


def equilibration_draws(step_size: float, gamma: float, thin: int = 1) -> int:
    """Kept draws per chain spanning 2/(εγ) SGLD steps, the relaxation time of the localization
    (the burn-in ``step = auto`` uses): chains that have not run that long have not spread over
    the posterior yet, and their batch and between-chain SEs understate its spread — a |z|
    of hundreds from chains that barely moved is not a resolved row."""
    return math.ceil(localization_steps(step_size, gamma) / max(thin, 1))


def draws_needed(draws: int, z: float, best: float | None) -> int | None:
    """Draws per chain that would bring a row at |z| = ``best`` after ``draws`` draws to ``z``
    (N·(z/|z_best|)²); None when ``best`` is missing or zero (no estimate to extrapolate)."""
    if best is None or not math.isfinite(best) or best <= 0:
        return None
    return max(draws, math.ceil(draws * (z / best) ** 2))


def budget_warnings(check: ChunkCheck, what: str = "row", history: list[ChunkCheck] | None = None) -> list[str]:
    """One warning per row the spent budget left unresolved: its best |z| and the draws needed.

    With ``history`` (every chunk's check, ``check`` last) a row whose |z| grew less than the
    square root of the √draws growth a nonzero entry shows (e.g. less than ×1.78 over 10× the
    draws, where ×3.16 is expected) is also said to look like zero: the draws-needed extrapolation
    assumes a growth that did not happen."""
    if not check.equilibrated:
        return [f"draws = auto: the budget of {check.draws} draws per chain is shorter than the "
                f"chains' equilibration time ({check.min_draws} draws, 2/(step x gamma) SGLD "
                f"steps), so no row's |z| is trusted. Remedy: max >= {check.min_draws}, or a larger "
                "step size or gamma"]
    out = []
    for label, b in check.best.items():
        if b is not None and b >= check.z:
            continue
        need = draws_needed(check.draws, check.z, b)
        shown = "none" if b is None else f"{b:.2g}"
        more = (f"; about {need} draws per chain would resolve it if the estimate stays put "
                f"(draws = auto(..., max={need}))" if need else "")
        out.append(f"draws = auto: {what} '{label}' is not resolved after the budget of {check.draws} "
                   f"draws (best |z| = {shown} < {check.z:g}){more}. Remedy: a larger max, more "
                   "chains (z grows as sqrt(chains x draws)), or a later checkpoint where the "
                   "observable responds more strongly" + _flat_note(label, history))
    return out


def _flat_note(label: str, history: list[ChunkCheck] | None) -> str:
    """The looks-like-zero sentence of :func:`budget_warnings` (empty when |z| grew, or when the
    history spans less than 4x the draws)."""
    seen = [c for c in history or [] if c.equilibrated and c.best.get(label) is not None]
    if len(seen) < 2 or seen[-1].draws < 4 * seen[0].draws or not seen[0].best[label]:
        return ""
    first, last = seen[0], seen[-1]
    expected = math.sqrt(last.draws / first.draws)
    a, b = first.best[label], last.best[label]
    assert a is not None and b is not None  # (``seen`` keeps checks where the row has a |z|)
    grown = b / a
    if grown >= math.sqrt(expected):
        return ""
    return (f". Its |z| went {first.best[label]:.2g} -> {last.best[label]:.2g} from {first.draws} to "
            f"{last.draws} draws, where a nonzero entry's grows x{expected:.2g}: the row looks like "
            "zero at this checkpoint, and more draws are unlikely to resolve it")


def llc_z(result: Any) -> dict[str, float | None]:
    """The default rows of :func:`sample_until`: the LLC's |λ̂| / SE."""
    ok = math.isfinite(result.llc_mean) and math.isfinite(result.llc_se) and result.llc_se > 0
    return {"llc": abs(result.llc_mean) / result.llc_se if ok else None}


def sample_until(model: Any, loss_fn: Any, batch_fn: Any, config: Any, *, z: float = 3.0,
                 max_draws: int, chunk: int, measure: Callable[[Any], dict[str, float | None]] = llc_z,
                 **kwargs: Any) -> tuple[Any, list[ChunkCheck]]:
    """``run_sgld`` in chunks of ``chunk`` draws (``config.num_draws`` is ignored) until every row
    ``measure(result)`` returns has best |z| >= ``z``, or ``max_draws`` are spent. ``kwargs`` go to
    every call (``observer=``: the same observer keeps accumulating). Returns the result over all
    draws and the check after each chunk (``budget_warnings(checks[-1])`` says what is unresolved)."""
    from patternlang.engine.sampler.sgld import run_sgld

    if z <= 0 or chunk < 1 or max_draws < chunk:
        raise ValueError("sample_until needs z > 0 and 1 <= chunk <= max_draws")
    checks: list[ChunkCheck] = []
    state, result, done = None, None, 0
    least = equilibration_draws(config.step_size, config.gamma, getattr(config, "thin", 1))
    while done < max_draws and not (checks and checks[-1].resolved):
        n = min(chunk, max_draws - done)
        result = run_sgld(model, loss_fn, batch_fn, dataclasses.replace(config, num_draws=n),
                          start=state, keep_state=True, **kwargs)
        state, done = result.extra["state"], done + n
        checks.append(ChunkCheck(done, measure(result), z, least))
    return result, checks
