# stdlib.parens: the balanced-parentheses experiment ("choose the algorithm"). The training data
# holds only strings that are both EQUAL-COUNT and NESTED (label 1), or neither (label 0); which rule
# a model learned shows on strings with equal counts but bad nesting (the `parens_ood` probe).

## A small transformer classifier for parentheses strings (CLS + up to 20 brackets). Bidirectional
## by default (with lr 1e-3 it learns EQUAL-COUNT in almost every seed; with heads=4 and AdamW lr
## 3e-3 the data mixture splits the seeds between the rules: specs/parentheses.pat); `causal=true`
## makes it a decoder that reads the class at the last bracket (it learns NESTED in most seeds).
model parens_net(layers=2, heads=2, d_model=32, mlp=64, causal=false) = parens_transformer(layers=layers, heads=heads, d_model=d_model, context=24, mlp=mlp, causal=causal)

## Balanced strings: equal counts and properly nested (label 1).
data balanced(max_len=20) = parens(min_len=2, max_len=max_len, label=1, context=24)

## Negatives whose depth never goes below zero (too many "("): counting alone rejects them.
data never_dips(max_len=20) = parens(min_len=2, max_len=max_len, label=0, negatives="never_dips", context=24)

## Negatives whose depth first goes below zero early in the string.
data dips_early(max_len=20) = parens(min_len=2, max_len=max_len, label=0, negatives="dips_early", context=24)

## Negatives whose depth first goes below zero late in the string (they start with "(").
data dips_late(max_len=20) = parens(min_len=2, max_len=max_len, label=0, negatives="dips_late", context=24)

## Negatives that start with ")".
data starts_close(max_len=20) = parens(min_len=2, max_len=max_len, label=0, negatives="starts_close", context=24)

## Agreement with the NESTED rule where the two rules disagree (1: the model learned nesting).
observable nested = nested_agreement()

## Agreement with the EQUAL-COUNT rule where the two rules disagree.
observable equal_count = equal_count_agreement()

## Probability of "balanced" on equal-count but badly nested strings.
observable ood_balanced = p_balanced_ood()
