model m = attn_only(layers="two")
