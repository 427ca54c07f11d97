# specs/quickstart.pat at half its SGLD step: 1.5e-4, 120 draws (thin 2) and a burn-in of 200,
# one localization time 2/(step*gamma) (issue 12; docs/sampler.md, "The step and chi"). Does the
# outcome change?
#   patc run examples/quickstart/half_step.pat --out runs/half_step
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)

data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov  = markov_text(vocab=64, length=32, order=1)
data uniform = uniform_tokens(vocab=64, length=32)
mixture base = {repeats: 0.35, markov: 0.45, uniform: 0.2}

train pretrain {
  model = tiny
  data = base
  steps = 500
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100]
}

sampler half { step = 1.5e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 200  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(100)
  sampler = half
  observe = [ih, prev, loss(repeats), loss(markov)]
  ## calibration: re-sample at (1 -/+ 0.05)h +/- 0.05 e_repeats and compare with chi
  check = finite_difference(repeats, delta=0.05)
}

patterning accelerate {
  from = chi
  raise mean(ih) by 0.1 weight 1
  hold loss(markov)
  subject to {
    weight(uniform) >= 0.05
    kl(base) <= 0.05
  }
}

verify accelerate {
  arms = [baseline, patterned, opposite, control]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}
