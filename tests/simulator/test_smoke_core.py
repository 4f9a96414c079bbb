import numpy as np

from simulator import ModelConfig, Transformer


def test_pattern_rows_sum_to_one_and_mask_is_zero():
    trace = Transformer(ModelConfig(), seed=1).run("the cat sat on the mat")
    pattern = trace["blocks.0.attn.hook_pattern"]
    np.testing.assert_allclose(pattern.sum(-1), 1.0)
    assert np.all(np.triu(pattern[0], 1) == 0.0)
