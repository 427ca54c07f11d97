# CI size of specs/induction_structural.pat: the component susceptibility matrix of every head (one
# weight-restricted sampling per head plus the full one), per-token columns, its standardized PCA,
# and a patterning along the principal mode of the heads' loss changes. Runs end to end in seconds
# (tests/experiments/test_structural_small.py); the assertions are about the pipeline.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=64)

data spans = repeated_spans(vocab=64, length=16, period=4)
data text  = markov_text(vocab=64, length=16, order=1)
data code_ = python_code_pool(vocab=64, length=16, size=64)
mixture base = {code_: 0.4, spans: 0.35, text: 0.25}

train pretrain {
  model = net
  data = base
  steps = 20
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [20]
}

sampler local { step = 3e-4  nbeta = 30  gamma = 300  chains = 2  draws = 10  batch = 16 }

## One row per head: the loss change under the posterior restricted to that head's weights.
susceptibility heads {
  at = pretrain.step(20)
  sampler = local
  parts = ["l*h*", embed]
  columns = per_token
  probe = 4
}

## The same rows, devinterp's estimator, one column per probe sequence.
susceptibility heads_dev {
  at = pretrain.step(20)
  sampler = local
  parts = ["l1h*"]
  columns = per_sample
  definition = devinterp
  probe = 4
}

## Every head again, with one column per example of the code pool: per-sample patterning along PC 0.
susceptibility heads_pool {
  at = pretrain.step(20)
  sampler = local
  parts = ["l*h*"]
  per_sample = [code_]
  probe = 4
}

## Per-sample weights that move the heads' loss changes along PC 0 (lower: toward the parts with
## negative loadings' losses rising less), against 3 random per-sample tilts of the same KL.
patterning along_pc {
  from = heads_pool
  samples = [code_]
  lower heads_pool.pc[0] by 0.1
  subject to {
    kl(base) <= 0.05
  }
}

verify along_pc {
  arms = [baseline, patterned, random(3)]
  seeds = 1
  steps = 20
  start = scratch
  every = 10
  observe = [loss(spans)]
}

patterning along_heads {
  from = heads
  move along mode(mean(heads.dL)) by -0.3
  subject to {
    kl(base) <= 0.05
  }
}

output { formats = [md, json] }
