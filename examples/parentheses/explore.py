"""Quick rule-choice exploration outside the pipeline (used for the README table "what decides the rule").

    OMP_NUM_THREADS=1 PYTHONPATH=. python examples/parentheses/explore.py '{"pos":0.5,"any":0.5}' 300 6 '{"causal":false}'

args: mixture weights (JSON), steps, number of seeds, model options (JSON). Prints nested / equal-count
agreement during training per seed."""
import sys, time, json
import torch
torch.set_num_threads(1)
from patternlang.data.parens import parens
from patternlang.data.mixture import Mixture
from patternlang.engine.train import train
from patternlang.plan.ir import OptimizerSpec
from patternlang.models.parens import ParensTransformer
from patternlang.observables.parens import parens_probe

def rules(model, n=256):
    g = torch.Generator().manual_seed(123)
    b = parens_probe(g, n, ["nested", "bad", "bad_open", "unequal"], 4, 16, 24)
    model.eval()
    with torch.no_grad():
        p = model(b["tokens"]).softmax(-1)[:, 1]
    model.train()
    out = {}
    for r in ("nested", "equal"):
        s = b[r].float(); out[r] = float((s*p + (1-s)*(1-p)).mean())
    return out

def run(weights, seed, steps, batch=64, lr=1e-3, layers=2, heads=2, d=32, mlp=64, causal=True, wd=0.01):
    comps = {"pos": parens(label=1, context=24), "flat": parens(label=0, negatives="never_dips", context=24),
             "early": parens(label=0, negatives="dips_early", context=24),
             "late": parens(label=0, negatives="dips_late", context=24),
             "closing": parens(label=0, negatives="starts_close", context=24), "any": parens(label=0, negatives="any", context=24)}
    for k, c in comps.items(): c.name = k
    names = [k for k in weights]
    mix = Mixture([comps[k] for k in names], [weights[k] for k in names])
    m = ParensTransformer(d_model=d, n_layers=layers, n_heads=heads, d_mlp=mlp, context=24, seed=seed, causal=causal)
    t = time.time()
    evals = []
    res = train(m, mix, steps=steps, batch=batch, optimizer=OptimizerSpec(lr=lr, weight_decay=wd),
                seed=seed + 1000, on_eval=lambda s, mm: evals.append((s, rules(mm))), eval_every=max(steps//4,1))
    return time.time() - t, res.loss[-20:], evals

if __name__ == "__main__":
    w = json.loads(sys.argv[1]); steps = int(sys.argv[2]); seeds = range(int(sys.argv[3])); kw = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    for s in seeds:
        dt, loss, ev = run(w, s, steps, **kw)
        print(s, f"{dt:.1f}s loss {sum(loss)/len(loss):.4f}", " ".join(f"{t}:n{e['nested']:.2f}/e{e['equal']:.2f}" for t, e in ev), flush=True)
