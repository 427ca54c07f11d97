# A new user's spec (issue 26): make a tiny MLP on (a ± b) mod 13 generalise better to held-out
# additions. The model and the data come from modtask.py beside this file; `heldout` is a probe:
# it is measured (tracked, targeted, verified) but never trained on, so it has no weight, no chi
# column and no row in the weights tables. CI size: runs in seconds.
model net = factory("MODULE:mlp", width=16)

data add  = factory("MODULE:pairs", op="add")
data sub  = factory("MODULE:pairs", op="sub")
data memo = factory("MODULE:pairs", op="memo")
probe heldout = factory("MODULE:pairs", op="add", part="test")
mixture base = {add: 0.4, sub: 0.4, memo: 0.2}

train pretrain {
  model = net
  data = base
  steps = 40
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [20]
  track = [loss(heldout)]
  every = 10
}

sampler local { step = 1e-3  gamma = 300  chains = 2  draws = 10  burnin = 5  batch = 32 }

susceptibility chi {
  at = pretrain.step(20)
  sampler = local
  observe = [loss(add), loss(heldout)]
}

patterning generalise {
  from = chi
  lower loss(heldout) by 0.05
  subject to {
    kl(base) <= 0.05
  }
}

verify generalise {
  arms = [baseline, patterned]
  seeds = 1
  steps = 20
  every = 10
  onset loss(heldout) <= 2.0
}

output { formats = [md, json] }
