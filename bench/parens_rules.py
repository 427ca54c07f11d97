"""Which rule do small transformers learn on the parentheses task? (sanity experiment)

Trains ``parens_transformer`` on a parentheses mixture over several seeds and reports, per seed, the
in-distribution accuracy and P(balanced) on the two halves of the OOD probe (equal-count, not nested:
starting with "(" and dipping later / starting with ")"). NESTED says 0 on both, EQUAL-COUNT 1;
"mixed" seeds reject one half only (a shortcut tied to the kinds of negatives they saw). The summary
also counts seeds whose P(balanced) on the whole (half/half) probe is below 0.5.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/parens_rules.py --seeds 8 --steps 400 --never 0.5
"""

from __future__ import annotations

import argparse
import time

import torch

from patternlang.data import Mixture
from patternlang.data.parens import parens, parens_ood
from patternlang.engine.train import train
from patternlang.models.parens import ParensTransformer
from patternlang.plan.ir import OptimizerSpec


def mixture(never: float, max_len: int, context: int, split=(1, 1, 1)) -> Mixture:
    """Half positives, half negatives; ``never`` of the negatives never dip below zero, the rest
    split in proportions ``split`` between starting with ")", dipping early and dipping late."""
    rest = [(1 - never) * x / sum(split) for x in split]
    comps = {"pos": parens(2, max_len, 0, "any", 1, context),
             "neg_never_dips": parens(2, max_len, 0, "never_dips", 0, context),
             "neg_starts_close": parens(2, max_len, 0, "starts_close", 0, context),
             "neg_dips_early": parens(2, max_len, 0, "dips_early", 0, context),
             "neg_dips_late": parens(2, max_len, 0, "dips_late", 0, context)}
    w = [0.5, 0.5 * never] + [0.5 * r for r in rest]
    return Mixture([c.renamed(n) for n, c in comps.items()], w)


@torch.no_grad()
def evaluate(model, mix: Mixture, max_len: int, context: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(12345)
    data, _ = mix.sample(2048, g)
    acc = (model(data["tokens"]).argmax(-1) == data["label"]).float().mean().item()
    out = {"acc": acc}
    for kind in ("starts_open", "starts_close"):
        probe = parens_ood(4, max_len, 0, kind, context).sample(1024, g)
        out[kind] = model(probe["tokens"]).softmax(-1)[:, 1].mean().item()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--never", type=float, nargs="+", default=[0.25])
    ap.add_argument("--split", type=float, nargs=3, default=[1, 1, 1],
                    help="shares of dipping negatives: starts_close, dips_early, dips_late")
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--d-model", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    context = args.max_len + 1
    for never in args.never:
        mix = mixture(never, args.max_len, context, args.split)
        rules, probe_means = [], []
        for seed in range(args.seeds):
            t = time.perf_counter()
            model = ParensTransformer(d_model=args.d_model, n_layers=args.layers, n_heads=4,
                                      d_mlp=2 * args.d_model, context=context, seed=seed)
            res = train(model, mix, args.steps, args.batch, OptimizerSpec(lr=args.lr, weight_decay=1e-3),
                        seed=seed)
            ev = evaluate(model.eval(), mix, args.max_len, context)
            rule = ("NESTED" if ev["starts_open"] < 0.5 and ev["starts_close"] < 0.5 else
                    "EQUAL-COUNT" if ev["starts_open"] >= 0.5 and ev["starts_close"] >= 0.5 else
                    "mixed")
            rules.append(rule)
            probe_means.append((ev["starts_open"] + ev["starts_close"]) / 2)
            print(f"never={never:.2f} seed={seed} loss={sum(res.loss[-20:]) / 20:.4f} "
                  f"acc={ev['acc']:.3f} P(bal|ood open)={ev['starts_open']:.2f} "
                  f"P(bal|ood close)={ev['starts_close']:.2f} -> {rule} "
                  f"({time.perf_counter() - t:.1f}s)", flush=True)
        print(f"never={never:.2f}: " + ", ".join(f"{r} {rules.count(r)}/{len(rules)}"
                                                 for r in ("NESTED", "EQUAL-COUNT", "mixed"))
              + f"; mixed-probe P(balanced) < 0.5 in {sum(p < 0.5 for p in probe_means)}/"
              f"{len(probe_means)} seeds (mean {sum(probe_means) / len(probe_means):.2f})")


if __name__ == "__main__":
    main()
