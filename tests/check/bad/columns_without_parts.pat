# columns / definition apply to component susceptibilities (parts = [...]) only.
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=1, heads=2, d_model=16, context=8, vocab=16)
data repeats = repeated_spans(vocab=16, length=8, period=4)
data uniform = uniform_tokens(vocab=16, length=8)
mixture base = {repeats: 0.3, uniform: 0.7}
train pretrain { model = tiny  data = base  steps = 20  batch = 8  checkpoints = [20] }
sampler local { step = 1e-3  gamma = 300  chains = 2  draws = 10  batch = 8 }
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(20)
  sampler = local
  observe = [prev]
  columns = per_token
}
