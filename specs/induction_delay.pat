# Delay induction-head formation: the same measurement, the opposite target, a tighter trust
# region and two rounds of iterative patterning (chi re-estimated after 100 more steps).
use stdlib.lm
use stdlib.core

model net = attn2()

data spans = repeats(period=8)
data text  = markov()
data prose_ = prose(length=32)
mixture base = {spans: 0.2, text: 0.5, prose_: 0.3}

train pretrain {
  model = net
  data = base
  steps = 300
  optimizer = adamw(lr=3e-3)
  checkpoints = [100, 200]
}

sampler local { step = 5e-4  nbeta = auto  gamma = 500  chains = 4  draws = 80  burnin = 20  thin = 2  batch = 32  restrict = ["blocks.1.*"] }

observable ih = induction(layer=1)

susceptibility chi {
  at = pretrain.step(100)
  sampler = local
  observe = [ih, ih[0], loss(spans), loss(prose_)]
}

patterning delay {
  from = chi
  lower mean(ih) by 0.1
  hold loss(prose_) weight 2
  subject to {
    fixed(prose_)
    l2(base) <= 0.15
  }
  rounds = 2
  round_steps = 100
}

verify delay {
  arms = [baseline, patterned, opposite]
  seeds = [0, 1, 2, 3]
  start = pretrain.step(100)
  every = 20
  onset mean(ih) >= 0.3
}
