# Quickstart: make the induction circuit of a tiny attention-only LM form earlier.
#
# Under the base mixture the layer-1 induction heads of this model form at about step 358 (a sharp
# jump of mean(ih) from ~0.1 to ~0.7); chi at step 250, where the induction score already responds
# to the data, says which components move it; the coupled estimator (paired samplings with common
# random numbers) measures the rows that decide the weights with honest errors; the solver moves
# weight along that direction within a KL trust region; the verdict says whether to trust the
# weights; verification retrains every arm from scratch over 3 seeds: the patterned weights, the
# opposite step, and a random step of the same length (control).
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
  checkpoints = [250]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(250)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
  ## the rows the patterning moves: paired runs at (1 -/+ 0.05)h +/- 0.05 e_k, 8 chains x 20 draws
  estimator = coupled(delta=0.05, chains=8, draws=20)
}

patterning accelerate {
  from = chi
  raise mean(ih) by 0.1 weight 1
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
