# CI size of specs/induction_structural.pat: the component susceptibility matrix of every head (one
# weight-restricted sampling per head plus the full one), per-token columns, its standardized PCA,
# and a patterning along the principal mode of the heads' loss changes. Runs end to end in seconds
# (tests/experiments/test_structural_small.py); the assertions are about the pipeline.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=64)

data spans  = repeated_spans(vocab=64, length=16, period=4)
data text   = markov_text(vocab=64, length=16, order=1)
data code_  = python_code(vocab=64, length=16)
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

patterning along_heads {
  from = heads
  move along mode(mean(heads.dL)) by -0.3
  subject to {
    kl(base) <= 0.05
  }
}

output { formats = [md, json] }
