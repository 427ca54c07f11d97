# How much compute does the regression baseline need to match patterning on the quickstart?
# specs/quickstart_validation.pat with the regression's proxies trained for 400 steps (instead of
# the equal-compute horizon, which ends before the baseline's induction transition at ~358 steps).
# Run it into the same run directory as specs/quickstart_validation.pat: every other arm's runs
# are re-used (content-addressed), only the 8 proxies and the regression arm train.
#   patc run examples/quickstart/regression_compute.pat --out runs/qv
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

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(100)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
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
  arms = [baseline, patterned, opposite, control, random(12), regression(8, steps=400)]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}
