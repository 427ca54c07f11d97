data a = uniform_tokens()
mixture base = {a: 1.0
train t { model = m }
