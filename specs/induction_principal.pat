# The paper's recipe: pattern along the principal susceptibility direction of the induction circuit.
#
# The same model, data and early checkpoint as specs/induction_accelerate.pat (a 2-layer, 4-head
# attention-only LM on Python code, its prose, repeated spans and Markov text; the layer-1
# induction heads form at about step 370 under this mixture). chi of the per-head induction and
# previous-token scores and the component losses at step 150, by the coupled estimator, is
# decomposed into principal modes;
# `mode(mean(ih))` is the mode that moves the mean induction score most, signed so that a positive
# step raises it. `accelerate` steps along it, `delay` against it, each inside the same KL trust
# region and bounds as the component-level target patterning of induction_accelerate.pat, so the
# two can be compared per unit of KL. Verification retrains baseline, patterned, a random step of
# the same length (control) and one orthogonal to the patterned step, 3 seeds each, from scratch.
# Results: examples/induction_principal/README.md; CI size: specs/ci/induction_principal.pat.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code(vocab=256, length=32)
data prose_ = python_prose(vocab=256, length=32)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 150
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [150]
}

## nbeta well above B/log B (9.2) so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility early {
  at = pretrain.step(150)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  probe = 64
  ## the rows the patterning moves: paired runs at (1 -/+ 0.05)h +/- 0.05 e_k, 16 chains x 20 draws (three free directions: Hotelling needs the chains)
  estimator = coupled(delta=0.05, chains=16, draws=20)
}

## Step along the induction mode; 0.3 is beyond the trust region, so the step ends on kl(base) = 0.05.
patterning accelerate {
  from = early
  move along mode(mean(ih)) by 0.3
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

## The same mode, the other way.
patterning delay {
  from = early
  move along mode(mean(ih)) by -0.3
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

verify accelerate {
  arms = [baseline, patterned, control, orthogonal]
  seeds = 3
  steps = 600
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

verify delay {
  arms = [baseline, patterned, control, orthogonal]
  seeds = 3
  steps = 600
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
