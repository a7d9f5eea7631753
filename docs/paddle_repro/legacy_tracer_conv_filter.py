"""Paddle 3.3.1, dynamic graph: the legacy tracer (paddle._legacy_C_ops) does honour
FLAGS_use_mkldnn and picks the oneDNN conv2d kernel, which then fails with
'(NotFound) OneDnnContext does not have the input Filter. [operator < conv2d > error]': the kernel
reads its inputs by name from the OneDNNContext, which only the static executors fill in.

    python legacy_tracer_conv_filter.py        # NotFound ... input Filter
    python legacy_tracer_conv_filter.py off    # runs (Paddle's own kernel)"""
import sys

import paddle
from paddle import _legacy_C_ops

paddle.set_device("cpu")
paddle.set_flags({"FLAGS_use_mkldnn": sys.argv[1:] != ["off"]})
x = paddle.randn([2, 16, 28, 28])
w = paddle.randn([16, 16, 3, 3])
y = _legacy_C_ops.conv2d(x, w, "strides", [1, 1], "paddings", [1, 1], "dilations", [1, 1], "groups", 1,
                         "data_format", "NCHW")
print("max difference to F.conv2d", float((y - paddle.nn.functional.conv2d(x, w, padding=1)).abs().max()))
