model m = attn_only(layers 2)
