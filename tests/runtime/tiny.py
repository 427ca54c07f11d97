"""A tiny spec for runtime tests: the whole pipeline in seconds on one CPU thread."""

from __future__ import annotations

from pathlib import Path

TINY = """\
use stdlib.lm

model m = attn_only(layers=1, heads=2, d_model=16, context=16, vocab=16)
data reps = repeated_spans(vocab=16, length=16, period=4)
data noise = uniform_tokens(vocab=16, length=16)
mixture base = {reps: 0.3, noise: 0.7}

train pre {
  model = m
  data = base
  steps = 30
  batch = 16
  optimizer = adamw(lr=3e-3)
  checkpoints = [20]
  track = [mean(ih), loss(reps)]
  every = 10
}

sampler s { step = 1e-3  nbeta = auto  gamma = 300  chains = 4  draws = 12  burnin = 4  batch = 16 }

observable ih = induction_score(layer=0, heads=*, period=4)

susceptibility chi {
  at = pre.step(20)
  sampler = s
  observe = [ih, loss(reps)]
}

patterning up {
  from = chi
  TARGET
  subject to {
    CONSTRAINTS
  }
}

measure final_ih {
  at = pre.final
  observe = [ih, mean(ih)]
}

verify up {
  arms = [baseline, patterned]
  seeds = 1
  steps = 20
  every = 10
  onset mean(ih) >= 0.9
}
"""


def write_spec(tmp: Path, target: str = "raise mean(ih) by 0.1",
               constraints: str = "kl(base) <= 0.1", name: str = "tiny.pat") -> Path:
    """Write the tiny spec with the given target and constraint lines; return its path."""
    path = tmp / name
    path.write_text(TINY.replace("TARGET", target).replace("CONSTRAINTS", constraints))
    return path


def run_in_one_process(spec: Path, out: Path):
    """``patternlang.api.run`` of ``spec`` into ``out`` on one CPU thread with one verification
    worker (module-scoped end-to-end fixtures share this)."""
    import pytest
    import torch

    from patternlang.api import run

    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATTERNLANG_WORKERS", "1")
        return run(spec, out, device="cpu")
