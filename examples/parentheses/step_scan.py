"""LLC of one pool checkpoint against the SGLD step size (the calibration table of the README).

For each step ε: 4 chains, max(200, 2/(εγ)) burn-in steps (one localization time, as
``step = auto`` gives its choice), then ``draws`` draws, γ 300, nβ 15.39 fixed (the
spec's B / log B at batch 64, whatever the minibatch), mixture of ``specs/parentheses.pat``; prints
the LLC with the means of the first and second half of the draws (still rising = not equilibrated).

    PYTHONPATH=$PWD python examples/parentheses/step_scan.py runs/parens 5 800 64 5e-5 1e-4 2e-4 5e-4
    #                                                       run dir   seed draws batch  steps...
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.engine.sampler.temperature import localization_steps
from patternlang.models.losses import model_loss_fn
from patternlang.plan.ir import Plan
from patternlang.runtime.services.build import build_components, build_model, load_weights
from patternlang.runtime.services.sampling import mixture_batches

NBETA, GAMMA, CHAINS, BURNIN = 15.38874710281561, 300.0, 4, 200


def main(run_dir: Path, seed: int, draws: int, batch: int, steps: list[float]) -> None:
    torch.set_num_threads(1)
    plan = Plan.model_validate(json.loads((run_dir / "plan.json").read_text()))
    train = next(s for s in plan.steps if s.kind == "train")
    pool = next((run_dir / "steps").glob(f"train-{train.id.split('.')[-1]}-*"))
    components = build_components(train.components)
    batches = mixture_batches(components, dict(train.mixture.weights), batch, torch.device("cpu"))
    for eps in steps:
        model = load_weights(build_model(train.model), next((pool / f"seed{seed}").glob("step*.safetensors")))
        cfg = SGLDConfig(step_size=eps, gamma=GAMMA, nbeta=NBETA, num_chains=CHAINS,
                         num_draws=draws, burnin=max(BURNIN, math.ceil(localization_steps(eps, GAMMA))), seed=7)
        t = time.time()
        res = run_sgld(model, model_loss_fn(model.task), batches, cfg)
        trace = np.asarray(res.loss_trace)
        half = trace.shape[1] // 2
        first, second = (res.nbeta * (trace[:, s].mean() - res.init_loss)
                         for s in (slice(None, half), slice(half, None)))
        print(f"step {eps:g}, batch {batch}, {draws} draws: LLC {res.llc_mean:.2f} ± {res.llc_se:.2f} "
              f"(first half {first:.2f}, second half {second:.2f}), R-hat {res.diagnostics.rhat:.3f}, "
              f"{time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
         [float(x) for x in sys.argv[5:]])
