# Parentheses: choose the algorithm. A pool of seeds trained on strings that are both balanced
# by count and nested, or neither; per-solution LLCs at representative checkpoints of the seeds that
# learned each rule; then reweight the data so the NESTED rule wins.
use stdlib.parens
use stdlib.core

model net = parens_net()

data pos = balanced()
data flat = never_dips()
data early = dips_early()
data late = dips_late()
data closing = starts_close()
mixture base = {pos: 0.5, flat: 0.35, early: 0.05, late: 0.05, closing: 0.05}

train pool {
  model = net
  data = base
  steps = 2000
  batch = 64
  optimizer = adamw(lr=1e-3, weight_decay=0.01)
  seeds = 16
  track = [nested, equal_count]
  every = 100
}

measure outcome {
  at = pool.final
  observe = [nested, equal_count, ood_balanced]
}

susceptibility chi_n {
  at = pool.final where nested >= 0.9 limit 4
  sampler = careful
  observe = [complexity, nested, loss(late)]
}

susceptibility chi_e {
  at = pool.final where equal_count >= 0.9 limit 4
  sampler = careful
  observe = [complexity, equal_count]
}

patterning prefer_nested {
  from = [chi_n, chi_e]
  lower chi_n.complexity relative to chi_e.complexity by 0.5
  raise chi_n.nested by 0.05
  subject to {
    weight(pos) == 0.5
    kl(base) <= 0.25
  }
}

verify prefer_nested {
  arms = [baseline, patterned]
  seeds = 8
  steps = 2000
  every = 100
  onset nested >= 0.9
}
