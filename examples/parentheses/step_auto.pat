# Per-solution LLCs of the parentheses classifiers at `step = auto` (issue 12's goal: within 10% of
# the LLCs at half the chosen step; README, "step = auto"). specs/parentheses.pat
# up to its susceptibilities, the step chosen by the scan (docs/sampler.md).
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

## 800 draws per chain: the scan's points then have 800 draws each too (SE ~4% of the LLC, so a 10%
## plateau can be resolved); 4 centers per solution keep it within a CPU budget.
sampler per_solution { step = auto  nbeta = auto  gamma = 300  chains = 4  draws = 800  burnin = 30  batch = 64 }

## Representative checkpoints of the NESTED solution.
susceptibility chi_n {
  at = pool.final where nested >= 0.75 limit 4
  sampler = per_solution
  observe = [free, complexity, nested]
  probe = 128
}

## Representative checkpoints of the EQUAL-COUNT solution (disjoint from chi_n's: the two
## agreements sum to at most 1.5, so both exceed 0.75 never).
susceptibility chi_e {
  at = pool.final where equal_count > 0.75 limit 4
  sampler = per_solution
  observe = [free, complexity, equal_count]
  probe = 128
}
