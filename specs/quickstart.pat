# Quickstart: make the induction circuit of a tiny attention-only LM form earlier.
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)

data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov  = markov_text(vocab=64, length=32, order=1)
data uniform = uniform_tokens(vocab=64, length=32)
mixture base = {repeats: 0.1, markov: 0.6, uniform: 0.3}

train pretrain {
  model = tiny
  data = base
  steps = 300
  batch = 32
  optimizer = adamw(lr=3e-3, weight_decay=0.05)
  checkpoints = [50, 100, 300]
}

sampler local { step = 1e-3  nbeta = auto  gamma = 300  chains = 4  draws = 60  burnin = 20  batch = 32 }

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
    weight(repeats) + weight(markov) <= 0.9
    kl(base) <= 0.2
  }
}

verify accelerate {
  arms = [baseline, patterned, opposite, control]
  seeds = 3
  steps = 300
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}
