# Parentheses, third attempt: chi of the rule observables at an EARLY checkpoint (the way the
# induction experiments succeeded), instead of per-solution LLCs at the final checkpoints.
# The classifier, data components and baseline mixture are those of specs/parentheses.pat: a
# bidirectional transformer (2 layers, 4 heads, d_model 32), AdamW lr 3e-3, weight decay 1e-3,
# 300 steps, 2.5% never-dipping negatives; the baseline splits about half NESTED / half EQUAL-COUNT.
# Along training every seed first passes through a NESTED-like phase (nested agreement ~0.8 at
# step 75-150) and then stays or drifts to EQUAL-COUNT. chi at step 100, pooled over the seeds of
# the pool (one center per seed), says which components push the rule observables up or down at
# that fork; each patterning raises one rule's agreement inside a KL trust region, and is verified
# by retraining 16 seeds per arm from scratch. Measured outcomes: examples/parentheses/README.md.
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
  checkpoints = [100]
  track = [nested, equal_count]
  every = 50
}

measure fork {
  at = pool.step(100)
  observe = [nested, equal_count, ood_balanced]
}

measure outcome {
  at = pool.final
  observe = [nested, equal_count, ood_balanced]
}

## The per-solution sampler of specs/parentheses.pat (R-hat <= 1.07 there).
sampler local { step = 5e-4  nbeta = auto  gamma = 300  chains = 4  draws = 100  burnin = 30  batch = 64 }

## One center per seed at step 100; chi is averaged over the centers.
susceptibility fork_chi {
  at = pool.step(100)
  sampler = local
  observe = [nested, equal_count, ood_balanced]
  probe = 64
}

## Diagnostic only (no patterning reads it): the same chi with a colder posterior (nbeta 100, as in
## the induction specs), to see whether the ranking of the components depends on the temperature.
sampler cold { step = 2e-4  nbeta = 100  gamma = 300  chains = 4  draws = 100  burnin = 30  batch = 64 }

susceptibility fork_chi_cold {
  at = pool.step(100)
  sampler = cold
  observe = [nested, equal_count, ood_balanced]
  probe = 64
}

patterning prefer_nested {
  from = fork_chi
  raise nested by 0.05
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.25
  }
}

patterning prefer_equal_count {
  from = fork_chi
  raise equal_count by 0.05
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.25
  }
}

verify prefer_nested {
  arms = [baseline, patterned]
  seeds = 16
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.75
  onset equal_count >= 0.75
}

verify prefer_equal_count {
  arms = [baseline, patterned]
  seeds = 16
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.75
  onset equal_count >= 0.75
}
