# Validation of parentheses.pat (docs/validation.md): the same spec without the finite-difference
# check, each patterning verified over 8 seeds against 12 random steps of its step's length, the
# opposite and control arms and a regression arm (prefer_nested: 128 proxy trainings of 300
# steps, equal compute; prefer_equal_count: 32, a quarter of it, for CPU time). The targets are
# free-energy differences, which training does not track: the validation reads each verify's
# first onset (the solution that patterning prefers) in their place, the "onset proxy".
# Results: examples/parentheses/README.md#validation.
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

measure outcome {
  at = pool.final
  observe = [nested, equal_count, ood_balanced]
}

## Per-solution sampling: modest, so 16 centers fit a CPU budget (see the README for calibration).
sampler per_solution { step = 5e-4  nbeta = auto  gamma = 300  chains = 4  draws = 100  burnin = 30  batch = 64 }

## Representative checkpoints of the NESTED solution.
susceptibility chi_n {
  at = pool.final where nested >= 0.75 limit 8
  sampler = per_solution
  observe = [free, complexity, nested]
  probe = 128
}

## Representative checkpoints of the EQUAL-COUNT solution (disjoint from chi_n's: the two
## agreements sum to at most 1.5, so both exceed 0.75 never).
susceptibility chi_e {
  at = pool.final where equal_count > 0.75 limit 8
  sampler = per_solution
  observe = [free, complexity, equal_count]
  probe = 128
}

patterning prefer_nested {
  from = [chi_n, chi_e]
  lower chi_n.free relative to chi_e.free by 40
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.5
  }
}

patterning prefer_equal_count {
  from = [chi_n, chi_e]
  lower chi_e.free relative to chi_n.free by 40
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.5
  }
}

verify prefer_nested {
  arms = [baseline, patterned, opposite, control, random(12), regression(128)]
  seeds = 8
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.75
  onset equal_count >= 0.75
}

verify prefer_equal_count {
  arms = [baseline, patterned, opposite, control, random(12), regression(32)]
  seeds = 8
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset equal_count >= 0.75
  onset nested >= 0.75
}
