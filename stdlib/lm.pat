# stdlib.lm: language-model pieces for the induction-circuit experiments (Olsson et al. 2022;
# Wang & Murfet 2026, section on accelerating and delaying induction heads).

## A two-layer attention-only transformer, CPU sized (the quickstart's model).
model attn2(heads=4, d_model=64, context=32, vocab=64) = attn_only(layers=2, heads=heads, d_model=d_model, context=context, vocab=vocab)

## The paper's size: two layers of eight heads, d_model 256.
model attn2_paper(context=128, vocab=512) = attn_only(layers=2, heads=8, d_model=256, context=context, vocab=vocab)

## The same two-layer attention-only shape as a TransformerLens HookedTransformer (extra `lens`).
model lens2(heads=4, d_model=64, context=32, vocab=64) = lens_transformer(layers=2, heads=heads, d_model=d_model, context=context, vocab=vocab)

## A two-layer GPT-2 (with MLPs and LayerNorm) from the transformers library, randomly initialised (extra `hf`).
model gpt2_2l(heads=4, d_model=64, context=32, vocab=64) = hf_causal_lm(arch="gpt2", layers=2, heads=heads, d_model=d_model, context=context, vocab=vocab)

## Random tokens repeated with period `period`: the data on which induction heads pay off.
data repeats(period=8, vocab=64, length=32) = repeated_spans(vocab=vocab, length=length, period=period)

## Markov text: local statistics without long-range copying.
data markov(vocab=64, length=32) = markov_text(vocab=vocab, length=length, order=1)

## Uniform random tokens: a no-structure baseline.
data noise(vocab=64, length=32) = uniform_tokens(vocab=vocab, length=length)

## Python standard-library source code: real text that needs no download.
data code(length=64) = python_code(vocab=256, length=length)

## Python standard-library docstrings: real English prose.
data prose(length=64) = python_prose(vocab=256, length=length)

## Induction score of each head of `layer` (one value per head): attention on the token that
## followed the previous occurrence of the current token, on sequences with period `period`.
observable induction(layer=1, period=8) = induction_score(layer=layer, heads=*, period=period)

## Previous-token score of each head of `layer`: the first half of the induction circuit.
observable prev_token(layer=0) = previous_token_score(layer=layer, heads=*)

## The strongest induction signal in a layer, minus its previous-token signal, averaged over heads.
observable induction_gap(layer=1, period=8) = mean(induction(layer, period)) - mean(prev_token(layer))

## In-context learning score on component `c`: loss late in the context minus loss early on.
observable icl(c) = icl_score(c, early=2, late=30)
