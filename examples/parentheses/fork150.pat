# Diagnostic for examples/parentheses/README.md (third attempt): the step-100 chi of
# specs/parentheses_early.pat measured at step 150 instead (same pool seeds, same sampler), to see
# whether the ranking of the components depends on the checkpoint. No patterning, no verification.
use stdlib.parens
use stdlib.core

model net = parens_net(heads=4)

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
  seeds = 8
  checkpoints = [150]
  track = [nested, equal_count]
  every = 50
}

## The per-solution sampler of specs/parentheses.pat.
sampler local { step = 5e-4  nbeta = auto  gamma = 300  chains = 4  draws = 100  burnin = 30  batch = 64 }

measure fork {
  at = pool.step(150)
  observe = [nested, equal_count, ood_balanced]
}

susceptibility fork_chi {
  at = pool.step(150)
  sampler = local
  observe = [nested, equal_count, ood_balanced]
  probe = 64
}
