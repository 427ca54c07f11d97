model m = attn_only(layers=2
data a = uniform_tokens()
