# Accelerate induction-head formation (the paper's first experiment) on real text + synthetic data.
#
# A 2-layer attention-only LM trains on Python stdlib source (code), its docstrings and comments
# (prose), random spans repeated with period 8 (spans) and first-order Markov text (text). Under the
# base mixture the layer-1 induction heads form at about step 370 (mean(ih) jumps from ~0.1 to
# ~0.8). chi at step 150, long before the jump, ranks every component by how it moves the per-head
# induction and previous-token scores and the per-component losses; the coupled estimator (paired
# samplings with common random numbers) measures the rows the solver moves with errors from
# independent chains (the covariance estimator leaves the induction row unresolved here; at step
# 250 the resolved chi points against the training-time outcome: examples/induction_accelerate/
# validation_250.pat); the solver moves weight along the induction direction
# inside a KL trust region while holding the real-text losses; the verdict says whether to trust the
# weights, and verification retrains each arm from scratch over 3 seeds.
#
# The paper's size is specs/paper/induction_accelerate.pat (8 heads/layer, d_model 256, context
# 1024, vocab 5000; compiles, not run on a CPU). A CI-sized copy is specs/ci/induction_accelerate.pat.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code(vocab=256, length=32)
data prose_ = python_prose(vocab=256, length=32)
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
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility early {
  at = pretrain.step(150)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  probe = 64
  ## the rows the patterning moves: paired runs at (1 -/+ 0.05)h +/- 0.05 e_k, 16 chains x 20 draws (three free directions: Hotelling needs the chains)
  estimator = coupled(delta=0.05, chains=16, draws=20)
}

patterning accelerate {
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

verify accelerate {
  arms = [baseline, patterned, opposite, control, orthogonal]
  seeds = 3
  steps = 600
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
