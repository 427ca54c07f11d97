# CI size of specs/quickstart.pat: the same steps, a model and horizon small enough to run end to
# end in seconds (tests/experiments/test_induction_small.py). Induction does not form at this
# size: the test checks the pipeline (chi, solution, verification curves), not the outcome.
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=64)

data repeats = repeated_spans(vocab=64, length=16, period=4)
data markov  = markov_text(vocab=64, length=16, order=1)
data uniform = uniform_tokens(vocab=64, length=16)
mixture base = {repeats: 0.35, markov: 0.45, uniform: 0.2}

train pretrain {
  model = tiny
  data = base
  steps = 20
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [10]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 2  draws = 10  thin = 1  burnin = 5  batch = 16 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=4)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(10)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
  probe = 16
  estimator = coupled(delta=0.05, chains=4)
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
  seeds = 2
  steps = 30
  start = scratch
  every = 10
  onset mean(ih) >= 0.3
}
