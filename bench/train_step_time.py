"""Time per training step of a 2-layer attention-only LM (d_model 64, 4 heads, context 32,
vocab 64) at batch 32 on one thread: model step alone, and with data drawn from a mixture.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/train_step_time.py
"""

import time

import torch

from patternlang.data import Mixture
from patternlang.data.synthetic import markov_text, repeated_spans, uniform_tokens
from patternlang.engine.train import train
from patternlang.models import AttnOnlyTransformer
from patternlang.plan.ir import OptimizerSpec


def main(steps: int = 200, repeats: int = 3) -> None:
    torch.set_num_threads(1)
    mix = Mixture([repeated_spans(64, 32, 8), markov_text(64, 32, 2, 0), uniform_tokens(64, 32)],
                  [0.4, 0.4, 0.2])
    batch, _ = mix.sample(32, torch.Generator().manual_seed(0))
    model = AttnOnlyTransformer(vocab=64, d_model=64, n_layers=2, n_heads=4, context=32, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    best_model = best_train = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            logits = model(batch["tokens"])
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 64),
                                                     batch["tokens"][:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        best_model = min(best_model, (time.perf_counter() - t) / steps)
        res = train(model, mix, steps, 32, OptimizerSpec(lr=1e-3), seed=0)
        best_train = min(best_train, res.seconds / steps)
    print(f"forward+backward+AdamW, fixed batch: {best_model * 1e3:.2f} ms/step")
    print(f"train() incl. mixture sampling:      {best_train * 1e3:.2f} ms/step")


if __name__ == "__main__":
    main()
