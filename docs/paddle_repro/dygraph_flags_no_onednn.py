"""Paddle 3.3.1, dynamic graph on CPU: neither FLAGS_use_mkldnn nor FLAGS_use_onednn makes any
kernel use oneDNN (ONEDNN_VERBOSE prints nothing): convolutions stay im2col + MKL GEMM.

    ONEDNN_VERBOSE=1 python dygraph_flags_no_onednn.py FLAGS_use_mkldnn | grep -c onednn_verbose   # 0
    (FLAGS_use_onednn too; the static scripts beside this one show that ONEDNN_VERBOSE does print
    when oneDNN runs)"""
import sys

import paddle

paddle.set_device("cpu")
if len(sys.argv) > 1:
    paddle.set_flags({sys.argv[1]: True})
x = paddle.randn([2, 16, 28, 28])
x.stop_gradient = False
y = paddle.nn.functional.relu(paddle.nn.BatchNorm2D(16)(paddle.nn.Conv2D(16, 16, 3, padding=1)(x)))
paddle.nn.functional.max_pool2d(y, 3, 2, 1).mean().backward()
print("done", sys.argv[1:], float(x.grad.abs().sum()))
