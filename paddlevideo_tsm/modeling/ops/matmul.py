"""Matrix products as a layer, so that ``paddle.flops`` (``tools/summary.py``) can count them.

``paddle.flops`` hooks only leaf layers and counts a functional ``paddle.matmul`` as zero; the
attention of a non-local block is two matmuls as large as a ResNet stage. ``MatMul`` is a
parameter-free leaf layer around the matrix product and ``count_matmul`` its counter for
``paddle.flops(..., custom_ops=MAC_COUNTERS)``.
"""
import math

import paddle.nn as nn


class MatMul(nn.Layer):
    """a [..., n, k] @ b [..., k, m] -> [..., n, m]; no parameters, no state-dict keys."""

    def forward(self, a, b):
        # the operator, not paddle.matmul: in Paddle 3.3.1 paddle.matmul fails in an old-IR (.pdmodel)
        # export ("argument must be Value, but got Variable"); ``@`` traces in both IRs
        return a @ b


def count_matmul(layer, inputs, output):
    """paddle.flops hook: multiply-accumulates of one MatMul call, numel(a) * m (as mmengine counts)."""
    a, b = inputs
    layer.total_ops += math.prod(a.shape) * int(b.shape[-1])


# layer type -> counter, for paddle.flops(custom_ops=...)
MAC_COUNTERS = {MatMul: count_matmul}
