model m = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)
data a = repeated_spans(vocab=64, length=32, period=8)
data b = markov_text(vocab=64, length=32, order=1)
data c = uniform_tokens(vocab=64, length=32)
mixture base = {a: 0.4, b: 0.4, c: 0.2}
train t { model = m  data = base  steps = 100  checkpoints = [50] }
sampler s { step = 1e-3  gamma = 100 }
observable ih = induction_score(layer=1, heads=*, period=8)
susceptibility chi { at = t.step(50)  sampler = s  observe = [ih, loss(a), loss(b)] }
patterning p {
  from = chi
  move along mode(2) by 0.1
}
