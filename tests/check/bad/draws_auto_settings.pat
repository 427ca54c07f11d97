model m = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)
data a = repeated_spans(vocab=64, length=32, period=8)
data b = uniform_tokens(vocab=64, length=32)
mixture base = {a: 0.5, b: 0.5}
train t { model = m  data = base  steps = 100  checkpoints = [50] }
sampler bare { step = 1e-3  gamma = 100  draws = auto }
sampler nonpositive { step = 1e-3  gamma = 100  draws = auto(z=0, max=100) }
sampler fractional { step = 1e-3  gamma = 100  draws = auto(max=2.5) }
sampler no_budget { step = 1e-3  gamma = 100  draws = auto(z=3) }
sampler misspelled { step = 1e-3  gamma = 100  draws = auto(zz=3, max=100) }
sampler big_chunk { step = 1e-3  gamma = 100  draws = auto(max=100, chunk=200) }
sampler positional { step = 1e-3  gamma = 100  draws = auto(3, max=100) }
sampler on_step { step = auto(z=3)  gamma = 100 }
