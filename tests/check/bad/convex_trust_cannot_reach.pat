# A bound the trust region cannot reach (issue 26): weight(repeats) >= 0.8 from h = 0.3 needs
# KL(h'||h) >= 0.53, above the 0.05 allowed; decidable before anything runs.
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=1, heads=2, d_model=16, context=8, vocab=16)

data repeats = repeated_spans(vocab=16, length=8, period=4)
data uniform = uniform_tokens(vocab=16, length=8)
mixture base = {repeats: 0.3, uniform: 0.7}

train pretrain {
  model = tiny
  data = base
  steps = 20
  seeds = 2
  batch = 8
  optimizer = adamw(lr=3e-3, weight_decay=0.05)
  checkpoints = [20]
}

sampler local { step = 1e-3  nbeta = auto  gamma = 300  chains = 3  draws = 10  burnin = 2  batch = 8 }

observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(20)
  sampler = local
  observe = [prev, loss(repeats)]
}

patterning accelerate {
  from = chi
  raise mean(prev) by 0.05 weight 1
  subject to {
    weight(repeats) >= 0.8
    kl(base) <= 0.05
  }
}

verify accelerate {
  arms = [baseline, patterned]
  seeds = 2
  steps = 10
  start = scratch
  every = 5
}
