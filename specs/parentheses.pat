# Parentheses: choose the algorithm (Li et al. 2025; Wang & Murfet 2026, section 4).
# A pool of seeds of a small bidirectional transformer classifier (2 layers, 4 heads, d_model 32) is
# trained on strings that are both EQUAL-COUNT and NESTED (label 1) or neither (label 0), split into
# components by the kind of negative. In this regime (AdamW lr 3e-3, weight decay 1e-3, 300 steps,
# unsaturated loss) the share of never-dipping negatives tips the rule: with none most seeds learn
# NESTED, with 2.5% of the negatives about half do, with 10% almost none (examples/parentheses).
# "Learned NESTED" = nested agreement >= 0.75, "learned EQUAL-COUNT" = equal-count agreement >= 0.75
# (P(balanced) on the badly nested strings below / above 1/2; the same thresholds select the
# representatives and score the verification arms). The EQUAL-COUNT side includes the shortcut
# "count, and reject strings that start with ')'": it accepts "("-first strings that dip later.
# Representative checkpoints of each rule give per-solution local free energies and their
# susceptibilities to the components; two patternings lower one rule's free energy relative to the
# other's, each verified by retraining 16 seeds per arm. The free energy F_n = n·L(w*) + λ·log n
# (observable `free`, per log n) rather than the LLC λ alone: at this unsaturated loss the two
# rules' solutions differ in loss on the components, and that term, not λ, ranks the components the
# way retraining does. Measured outcomes: examples/parentheses/README.md.
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
  ## Linear response vs re-sampling with the mixture moved 5% toward each component (first center).
  check = finite_difference(flat, late, closing, delta=0.05)
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
  arms = [baseline, patterned, orthogonal]
  seeds = 16
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.75
  onset equal_count >= 0.75
}

verify prefer_equal_count {
  arms = [baseline, patterned, orthogonal]
  seeds = 16
  steps = 300
  every = 100
  observe = [nested, equal_count]
  onset nested >= 0.75
  onset equal_count >= 0.75
}
