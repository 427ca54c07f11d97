# CI size of specs/induction_per_sample.pat: per-sample susceptibilities over two pools of real-text
# windows, a per-sample patterning of every window's weight, a training run on the solved weights and
# verification with every arm, small enough to run end to end in seconds
# (tests/experiments/test_induction_small.py). Induction does not form at this size.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=64)

data spans  = repeated_spans(vocab=64, length=16, period=4)
data text   = markov_text(vocab=64, length=16, order=1)
data code_  = python_code_pool(vocab=64, length=16, size=256)
data prose_ = python_prose_pool(vocab=64, length=16, size=128)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 20
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [20]
}

sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 2  draws = 10  thin = 1  burnin = 5  batch = 16 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=4)

susceptibility early {
  at = pretrain.step(20)
  sampler = local
  observe = [ih, loss(spans), loss(code_), loss(prose_)]
  probe = 16
  per_sample = [code_, prose_]
}

patterning accelerate {
  from = early
  samples = [code_, prose_]
  raise mean(ih) by 0.1
  hold loss(code_) weight 0.5
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    kl(base) <= 0.05
  }
}

train patterned { model = net  data = accelerate  steps = 10  batch = 16 }

verify accelerate {
  arms = [baseline, patterned, opposite, control, orthogonal]
  seeds = 2
  steps = 30
  start = scratch
  every = 10
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
