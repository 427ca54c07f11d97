# Diagnostic for examples/parentheses/README.md ("Calibration"): does the LLC's linear response
# agree with re-sampling when the chains are 4x longer? Same model, data, pool (re-used from the run
# directory of specs/parentheses.pat) and first NESTED center as the main spec; 400 draws after 100
# burn-in instead of 100 after 30.
use stdlib.parens
use stdlib.core

model net = parens_net(heads=4)

## F_n / log n at the sample size of one training run (300 steps x batch 64).
observable free = free_energy(n=19200)

data pos     = balanced()
data flat    = never_dips()
data early   = dips_early()
data late    = dips_late()
data closing = starts_close()
## Few negatives that never dip (2.5% of the negatives): the baseline splits between the rules.
mixture base = {pos: 0.5, flat: 0.0125, early: 0.1625, late: 0.1625, closing: 0.1625}

train pool {
  model = net
  data = base
  steps = 300
  batch = 64
  optimizer = adamw(lr=3e-3, weight_decay=1e-3)
  seeds = 32
  track = [nested, equal_count]
  every = 100
}

sampler long { step = 5e-4  nbeta = auto  gamma = 300  chains = 4  draws = 400  burnin = 100  batch = 64 }

susceptibility chi_long {
  at = pool.final where nested >= 0.75 limit 1
  sampler = long
  observe = [free, complexity, nested]
  probe = 128
  check = finite_difference(flat, late, closing, delta=0.05)
}
