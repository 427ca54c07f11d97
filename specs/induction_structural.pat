# The susceptibility matrix of the paper's line of work on the induction model (issue 24).
#
# The model, data, base mixture and early checkpoint of specs/induction_accelerate.pat (2-layer,
# 4-head attention-only LM; the layer-1 induction heads form at about step 270 here), with
# the Python code as a pool of fixed windows so that it can be re-weighted example by example.
# `heads` measures the component susceptibility matrix of every head at step 150: one
# weight-restricted sampling per head plus the full one, rows dL[head] (the loss change under the
# posterior restricted to that head), columns every predicted token of the probe sequences of the
# other components and every window of the code pool; its standardized PCA (over the component
# columns, the ones that resolve at this size) is in the report. `formed` labels the induction heads
# at step 600 (induction score per head). Patterning along PC 0 (at seed 0 the layer-1 heads on one
# side): per-sample (code windows and components; code windows only) against 12 random per-sample
# re-weightings of the same KL, and at component level.
# Results: examples/induction_structural/README.md; CI size: specs/ci/induction_structural.pat.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code_pool(vocab=256, length=32, size=384)
data prose_ = python_prose(vocab=256, length=32)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 600
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [150, 600]
}

## nbeta well above B/log B (9.2) so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 150  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)

## Which heads are the induction heads once they have formed.
measure formed {
  at = pretrain.step(600)
  observe = [ih]
}

## Every head: rows dL[head], columns every token of 8 probe sequences per synthetic/prose component
## and every window of the code pool.
susceptibility heads {
  at = pretrain.step(150)
  sampler = local
  parts = ["l*h*"]
  columns = per_token
  per_sample = [code_]
  probe = 8
  ## the PCA over the 4 component columns: the token and window columns are mostly noise at this size
  pca = components
}

## Per-sample weights (every code window, and the other components) that move the heads' loss changes
## along PC 0, whose loadings put the layer-1 (induction) heads on the negative side at pool seed 0
## (README): `raise` lowers their restricted loss change — toward the data that express them. The
## amount is beyond reach (pc rows are in standardized units): the step ends on the trust region.
patterning per_sample_pc {
  from = heads
  samples = [code_]
  raise heads.pc[0] by 1000
  subject to {
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

## The same target at component level (4 weights), same trust region.
patterning component_pc {
  from = heads
  raise heads.pc[0] by 1000
  subject to {
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

## Against 12 random per-example re-weightings of the code windows with the same KL.
verify per_sample_pc {
  arms = [baseline, patterned, random(12)]
  seeds = 2
  steps = 600
  start = scratch
  every = 20
  observe = [ih]
  onset mean(ih) >= 0.3
}

verify component_pc {
  arms = [baseline, patterned]
  seeds = 2
  steps = 600
  start = scratch
  every = 20
  observe = [ih]
  onset mean(ih) >= 0.3
}

## The code windows only (the other components fixed at their base weights): the same freedom as the
## random arms, which tilt the code windows alone.
patterning windows_pc {
  from = heads
  samples = [code_]
  raise heads.pc[0] by 1000
  subject to {
    fixed(spans, text, prose_)
    kl(base) <= 0.05
  }
}

verify windows_pc {
  arms = [baseline, patterned, random(12)]
  seeds = 2
  steps = 600
  start = scratch
  every = 20
  observe = [ih]
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
