# Per-sample patterning: weight every window of a pool of real text, not just the components.
#
# The model, synthetic components, base weights and early checkpoint of specs/induction_accelerate.pat,
# with the real text as two fixed pools of windows (1536 windows of Python code, 1024 of its prose:
# 2,560 examples; every draw of the sampler evaluates every window, so this is what a shared 2-core
# machine affords — the solver itself takes pools of 10,000-50,000, see docs/solver.md). chi at step 150 is measured per example of both pools (per_sample = [...]: one
# column per window, the Bayesian influence of each window on each observable). Two patternings with
# the same targets, constraints and KL trust region: `component` moves the four component weights
# (as induction_accelerate.pat does), `per_sample` moves the weight of every window (and of the two
# synthetic components), so the two can be compared at the same KL from the base distribution.
# Verification retrains baseline and both patterned mixtures, and for the per-sample solution random
# re-weightings of the pools' examples with the same KL (control, orthogonal), 3 seeds each.
# Results: examples/induction_per_sample/README.md; CI size: specs/ci/induction_per_sample.pat.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code_pool(vocab=256, length=32, size=1536)
data prose_ = python_prose_pool(vocab=256, length=32, size=1024)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 150
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [150]
}

## nbeta well above B/log B (9.2) so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 40  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility early {
  at = pretrain.step(150)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  probe = 64
  per_sample = [code_, prose_]
}

## Component-level target patterning (as in induction_accelerate.pat).
patterning component {
  from = early
  raise mean(ih) by 0.1
  hold loss(code_) weight 0.5
  hold loss(prose_) weight 0.5
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

## The same targets and constraints, one weight per window of each pool.
patterning per_sample {
  from = early
  samples = [code_, prose_]
  raise mean(ih) by 0.1
  hold loss(code_) weight 0.5
  hold loss(prose_) weight 0.5
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

verify component {
  arms = [baseline, patterned]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

verify per_sample {
  arms = [baseline, patterned, control, orthogonal]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
