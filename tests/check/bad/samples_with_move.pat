model m = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)
data a = repeated_spans(vocab=64, length=32, period=8)
data pool = python_code_pool(vocab=64, length=32, size=64)
mixture base = {a: 0.5, pool: 0.5}
train t { model = m  data = base  steps = 100  checkpoints = [50] }
sampler s { step = 1e-3  gamma = 100 }
observable ih = induction_score(layer=1, heads=*, period=8)
susceptibility chi { at = t.step(50)  sampler = s  observe = [ih]  per_sample = [pool] }
patterning p {
  from = chi
  samples = [pool]
  move along mode(mean(ih)) by 0.1
  subject to { kl(base) <= 0.05 }
}
