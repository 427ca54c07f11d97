use stdlib.lmm
model m = attn2()
