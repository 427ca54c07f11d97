# specs/induction_delay.pat at half its SGLD step: 1.5e-4, 120 draws (thin 2) and a burn-in of 200,
# one localization time 2/(step*gamma) (issue 12; docs/sampler.md, "The step and chi"). Does the
# outcome change?
#   patc run examples/induction_delay/half_step.pat --out runs/delay_half_step
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code(vocab=256, length=32)
data prose_ = python_prose(vocab=256, length=32)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.4, text: 0.1}

train pretrain {
  model = net
  data = base
  steps = 100
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100]
}

sampler half { step = 1.5e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 200  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(100)
  sampler = half
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  ## calibration: paired finite differences toward the two components the solver moves most
  check = finite_difference(spans, text, delta=0.05)
}

patterning delay {
  from = chi
  lower mean(ih) by 0.1
  hold loss(code_) weight 0.5
  hold loss(prose_) weight 0.5
  subject to {
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

verify delay {
  arms = [baseline, patterned, opposite, control, orthogonal]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
