# The quickstart's validation with chi taken at step 250 instead of 100.
#
# examples/quickstart/lds_diagnosis.py showed that chi at step 100 is taken too early: its mean(ih)
# row does not see that markov text delays induction (LDS 0.54 over the arms of
# specs/quickstart_validation.pat, 0.15 with 4x the draws), while chi at step 250, closer to the
# baseline's transition (~358), ranks the same arms with LDS 0.87. This spec solves and verifies
# with that chi: the patterned step, its 12 random arms and the regression baseline all change.
#   patc run examples/quickstart/validation_late.pat --out runs/lds_diag
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
  checkpoints = [100, 250]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi_late {
  at = pretrain.step(250)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
}

patterning accelerate {
  from = chi_late
  raise mean(ih) by 0.1 weight 1
  hold loss(markov)
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
