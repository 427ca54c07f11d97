# Accelerate induction-head formation (the paper's first experiment): estimate how each data
# component moves the layer-1 induction scores at an early checkpoint, then shift the mixture along
# the induction direction and check, over seeds, that the induction score crosses 0.3 earlier.
use stdlib.lm
use stdlib.core

model net = attn2(heads=4, d_model=64, context=32, vocab=64)

data spans = repeats(period=8)
data text  = markov()
data code_ = code(length=32)
data noise_ = noise()
mixture base = {spans: 0.1, text: 0.4, code_: 0.3, noise_: 0.2}

train pretrain {
  model = net
  data = base
  steps = 400
  batch = 32
  optimizer = adamw(lr=3e-3, weight_decay=0.05)
  schedule = warmup_cosine
  warmup = 40
  checkpoints = [50, 100, 200, 400]
  track = [induction(layer=1)]
  every = 25
}

## Induction score of each layer-1 head.
observable ih = induction(layer=1, period=8)
## Previous-token score of each layer-0 head.
observable pt = prev_token(layer=0)

susceptibility early {
  at = pretrain.step(100)
  sampler = quick
  observe = [ih, pt, loss(spans), loss(text), complexity]
  probe = 64
}

patterning accelerate {
  from = early
  raise mean(ih) by 0.1
  raise mean(pt) by 0.05 weight 0.5
  hold loss(text)
  subject to {
    0.02 <= weight(noise_) <= 0.5
    weight(spans) <= 0.6
    kl(base) <= 0.3
  }
}

train patterned_run {
  model = net
  data = accelerate
  steps = 400
  batch = 32
  optimizer = adamw(lr=3e-3, weight_decay=0.05)
}

verify accelerate {
  arms = [baseline, patterned, control]
  seeds = 3
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
