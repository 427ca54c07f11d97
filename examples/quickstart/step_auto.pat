# specs/quickstart.pat sampled the way stdlib.core's `careful` sampler first was (issue 12):
# step = auto (a scan of the step at the checkpoint, with the targeted chi rows), draws = auto
# (until the targeted rows are resolved, at most 2000), 8 chains. The scan picks 1.25e-3 and the
# patterning reverses (examples/quickstart/README.md, "Resolved or not").
#   patc run examples/quickstart/step_auto.pat --out runs/step_auto
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

sampler auto8 { step = auto  nbeta = 100  gamma = 100  chains = 8  draws = auto(z=3, max=2000, chunk=200)  burnin = 200  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(100)
  sampler = auto8
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
