model m = attn_only(layers=0, heads=4, d_model=64, colour=2)
data a = uniform_tokens(vocab=1)
sampler s { step = -1  gamma = 0 }
