# stdlib.parens: the balanced-parentheses experiment ("choose the algorithm"). The training data
# holds only strings that are both EQUAL-COUNT and NESTED, or neither; which rule a model learned
# shows on strings with equal counts but bad nesting.

## A one-layer transformer classifier for parentheses strings.
model parens_net(heads=1, d_model=16, context=42) = parens_transformer(layers=1, heads=heads, d_model=d_model, context=context, mlp=true)

## Strings up to `max_len` long with nesting depth up to `depth`.
data strings(max_len=40, depth=20) = parens(min_len=2, max_len=max_len, depth=depth, negatives="both", label="balanced")

## Shallow strings (depth <= 2): both rules explain them equally well.
data shallow = strings(max_len=40, depth=2)

## Deep strings (depth up to 20): nesting matters.
data deep = strings(max_len=40, depth=20)

## Short strings (at most 10 characters).
data short = strings(max_len=10, depth=5)

## Agreement with the NESTED rule where the two rules disagree (1: the model learned nesting).
observable nested = nested_agreement()

## Agreement with the EQUAL-COUNT rule where the two rules disagree.
observable equal_count = equal_count_agreement()

## Probability of "balanced" on equal-count but badly nested strings.
observable ood_balanced = p_balanced_ood()
