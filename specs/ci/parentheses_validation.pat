# CI-sized validation of a patterning whose target training does not track (a free-energy
# difference): the verify's first onset, `nested`, is read in its place (docs/validation.md, "onset
# proxy"). Tested by tests/runtime/test_validation_proxy.py.
use stdlib.parens
use stdlib.core

model net = parens_net(layers=1, heads=2, d_model=16, mlp=16, causal=true)

## F_n / log n at one training run's sample size (60 steps x batch 32).
observable free = free_energy(n=1920)

data pos     = balanced(max_len=10)
data flat    = never_dips(max_len=10)
data early   = dips_early(max_len=10)
data late    = dips_late(max_len=10)
data closing = starts_close(max_len=10)
mixture base = {pos: 0.5, flat: 0.32, early: 0.06, late: 0.06, closing: 0.06}

train pool {
  model = net
  data = base
  steps = 60
  batch = 32
  optimizer = adamw(lr=3e-3, weight_decay=0.01)
  seeds = 4
  track = [nested, equal_count]
  every = 30
}

sampler tiny { step = 5e-4  nbeta = auto  gamma = 300  chains = 2  draws = 20  burnin = 5  batch = 32 }

susceptibility chi_n {
  at = pool.final where nested >= 0.77 limit 2
  sampler = tiny
  observe = [free, complexity, nested]
  probe = 16
}

susceptibility chi_e {
  at = pool.final where nested < 0.77 limit 2
  sampler = tiny
  observe = [free, complexity, equal_count]
  probe = 16
}

patterning prefer_nested {
  from = [chi_n, chi_e]
  lower chi_n.free relative to chi_e.free by 5
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.25
  }
}

verify prefer_nested {
  arms = [baseline, patterned, opposite, random(3), regression(3)]
  seeds = 2
  steps = 40
  every = 20
  observe = [nested, equal_count]
  onset nested >= 0.8
  onset equal_count >= 0.9
}
