"""A verdict per target after verification: desired vs realized change with its spread over seeds.

For each target of the patterning, the patterned arm's realized change is the per-seed paired
difference patterned − baseline (same seed, same initialization) at one evaluation step; its mean
and standard deviation over seeds are set beside the desired change and the solver's prediction.

* ``sign_agrees`` is ``None`` (unresolved) where ``|predicted| <= SE``: a prediction within its
  standard error has no sign to agree with.
* A ``hold`` *held* when ``|realized mean| <= tolerance`` with ``tolerance = max(2·sd_base,
  rel·|baseline mean|)``: twice the baseline's seed-to-seed spread (the noise floor of one arm), but
  at least ``rel`` (2 %) of the baseline's value so a seed-deterministic baseline is not held to 0.
* A ``raise`` / ``lower`` is *reached* when the realized mean moved in its direction by at least
  the desired amount; with a desired amount of 0 (the validation's onset proxy, which has no amount
  in training units) any move in its direction reaches it.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

import numpy as np

#: relative floor of the hold tolerance (fraction of the baseline's value)
HOLD_REL = 0.02


def hold_tolerance(baseline: Sequence[float] | np.ndarray) -> float:
    """The tolerance a ``hold`` is judged with (module docstring)."""
    b = np.asarray(baseline, float)
    return float(max(2.0 * np.std(b), HOLD_REL * abs(np.mean(b))))


def target_verdict(label: str, kind: str, desired: float, predicted: float | None,
                   se: float | None, patterned: Sequence[float] | np.ndarray,
                   baseline: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """The verdict of one target from per-seed values of the patterned and baseline arms."""
    p, b = np.asarray(patterned, float), np.asarray(baseline, float)
    diff = p - b
    mean, sd = float(np.mean(diff)), float(np.std(diff))
    resolved = predicted is not None and abs(predicted) > (se or 0.0)
    out: dict[str, Any] = {"target": label, "kind": kind, "desired": desired, "predicted": predicted, "se": se,
           "realized_mean": mean, "realized_sd": sd, "seeds": len(diff),
           "prediction_resolved": bool(resolved),
           "sign_agrees": bool(np.sign(mean) == np.sign(predicted)) if predicted is not None and resolved
           else None}
    if kind == "hold":
        tol = hold_tolerance(b)
        out.update(tolerance=tol, held=bool(abs(mean) <= tol))
        out["verdict"] = (f"held: {mean:+.3g} within ±{tol:.3g}" if out["held"]
                          else f"moved by {mean:+.3g} ± {sd:.2g} (tolerance {tol:.3g})")
    else:
        want = np.sign(desired) or {"raise": 1.0, "lower": -1.0}.get(kind, 0.0)
        reached = bool(want != 0 and np.sign(mean) == want and abs(mean) >= abs(desired))
        out["reached"] = reached
        out["verdict"] = (f"{'reached' if reached else 'not reached'}: {mean:+.3g} ± {sd:.2g} "
                          f"(desired {desired:+.3g})")
    return out
