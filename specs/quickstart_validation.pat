# Quickstart with validation: does chi's direction beat chance, and a black-box regression?
#
# The quickstart (specs/quickstart.pat: the same training, chi, solve and arms), verified also
# against 12 random steps of the solved step's length (the patterned arm's percentile among them,
# and the rank correlation of predicted vs realized change over all arms: docs/validation.md) and
# against the regression baseline: 8 proxy trainings at random mixtures inside the same
# constraints, whose horizon is chosen so that they spend what sampling and chi spent (equal
# compute). A benchmark, not a test: about 10 minutes on a quiet 2-core CPU machine.
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
  arms = [baseline, patterned, opposite, control, random(12), regression(8)]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}
