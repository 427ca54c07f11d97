# Parentheses: choose the algorithm (Li et al. 2025; Wang & Murfet 2026, section 4).
# A pool of seeds of a small decoder-style (causal) transformer is trained on strings that are both
# EQUAL-COUNT and NESTED (label 1) or neither (label 0), split into components by the kind of
# negative. Training stops at an unsaturated loss (300 steps). Representative checkpoints of the
# seeds that learned NESTED (nested agreement >= 0.9) and of the seeds that did not (they lean to
# EQUAL-COUNT) give per-solution LLCs and their susceptibilities to the components; two patternings
# lower one solution's LLC relative to the other's, and each is verified by retraining 16 seeds.
# Measured outcomes: examples/parentheses/README.md.
use stdlib.parens
use stdlib.core

model net = parens_net(causal=true)

data pos = balanced()
data flat = never_dips()
data early = dips_early()
data late = dips_late()
data closing = starts_close()
## Many negatives that never dip (only the count rejects them), few that dip.
mixture base = {pos: 0.5, flat: 0.32, early: 0.06, late: 0.06, closing: 0.06}

train pool {
  model = net
  data = base
  steps = 300
  batch = 64
  optimizer = adamw(lr=1e-3, weight_decay=0.01)
  seeds = 24
  track = [nested, equal_count]
  every = 100
}

measure outcome {
  at = pool.final
  observe = [nested, equal_count, ood_balanced]
}

## Per-solution sampling: modest, so 16 centers fit a CPU budget (see the README for calibration).
sampler per_solution { step = 5e-4  nbeta = auto  gamma = 300  chains = 4  draws = 100  burnin = 30  batch = 64 }

## Representative checkpoints of the NESTED solution (0.95: disjoint from chi_e's seeds).
susceptibility chi_n {
  at = pool.final where nested >= 0.95 limit 8
  sampler = per_solution
  observe = [complexity, nested]
  probe = 32
}

## Representative checkpoints of the other solutions: the seeds that lean least to NESTED. With this
## causal model and mixture almost no seed reaches EQUAL-COUNT (see the README), so the threshold sits
## at 0.95 to find 8 of them; at 0.9 the selection can come back empty.
susceptibility chi_e {
  at = pool.final where nested < 0.95 limit 8
  sampler = per_solution
  observe = [complexity, equal_count]
  probe = 32
}

patterning prefer_nested {
  from = [chi_n, chi_e]
  lower chi_n.complexity relative to chi_e.complexity by 5
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.25
  }
}

patterning prefer_equal_count {
  from = [chi_n, chi_e]
  lower chi_e.complexity relative to chi_n.complexity by 5
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
  onset nested >= 0.9
  onset equal_count >= 0.9
}

verify prefer_equal_count {
  arms = [baseline, patterned]
  seeds = 16
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.9
  onset equal_count >= 0.9
}
