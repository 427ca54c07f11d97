model m = attn_only(layers=2, head=4)
