# Why is the quickstart's LDS 0.54? Two susceptibilities that re-predict the same arms.
#
# examples/quickstart/lds_diagnosis.py ranks the 16 retrained arms of
# specs/quickstart_validation.pat (runs/qv) by the predicted change of mean(ih) under each chi
# here and compares with their realized change (the LDS of docs/validation.md): chi_long has 4x
# the draws at the same checkpoint (step 100), chi_late is taken at step 250, closer to the
# baseline's induction transition. No arm is retrained.
#   patc run examples/quickstart/lds_diagnosis.pat --out runs/lds_diag
#   python examples/quickstart/lds_diagnosis.py runs/qv runs/lds_diag
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)

data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov  = markov_text(vocab=64, length=32, order=1)
data uniform = uniform_tokens(vocab=64, length=32)
mixture base = {repeats: 0.35, markov: 0.45, uniform: 0.2}

train pretrain {
  model = tiny
  data = base
  steps = 500
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100, 250]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

## 4x the draws at the same checkpoint: is the mean(ih) row of chi limited by its standard error?
sampler long { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 240  thin = 2  burnin = 100  batch = 32 }

susceptibility chi_long {
  at = pretrain.step(100)
  sampler = long
  observe = [ih, prev, loss(repeats), loss(markov)]
}

## A later checkpoint, closer to the baseline's transition (~358): is step 100 too early?
susceptibility chi_late {
  at = pretrain.step(250)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
}

## Step 250 with 2x the draws (issue 12): the blocking SE puts chi_late's mean(ih) row at |z| 2.2,
## so about (3/2.2)^2 = 1.9x the draws should resolve it.
sampler late2 { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 100  batch = 32 }

susceptibility chi_late2 {
  at = pretrain.step(250)
  sampler = late2
  observe = [ih, prev, loss(repeats), loss(markov)]
}
