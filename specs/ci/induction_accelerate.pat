# CI size of specs/induction_accelerate.pat: the same steps, a model and horizon small enough to run
# end to end in seconds (tests/experiments/test_induction_small.py). Induction does not form at
# this size: the test checks the pipeline (chi, solution, verification curves), not the outcome.
#
#
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=64)

data spans  = repeated_spans(vocab=64, length=16, period=4)
data text   = markov_text(vocab=64, length=16, order=1)
data code_  = python_code(vocab=64, length=16)
data prose_ = python_prose(vocab=64, length=16)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 20
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [20]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 2  draws = 10  thin = 1  burnin = 5  batch = 16 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=4)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility early {
  at = pretrain.step(20)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  probe = 16
  check = finite_difference(spans, delta=0.05)
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
  arms = [baseline, patterned, control]
  seeds = 2
  steps = 30
  start = scratch
  every = 10
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
