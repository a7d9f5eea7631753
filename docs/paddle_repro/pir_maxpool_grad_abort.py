"""Paddle 3.3.1, static program (PIR) with FLAGS_use_mkldnn=1: a training step with a max-pool
between two convolutions dies in onednn_op.pool2d_grad: the pool's output gradient arrives blocked
(aBcd8b, from the convolution's backward-data) while its forward workspace was made for acdb;
oneDNN finds no backward implementation ('workspace mismatch between forward and backward primitive
descriptors') and Paddle raises dnnl::error -> RuntimeError: std::exception (a whole ResNet step
aborts the same way).

    ONEDNN_VERBOSE=all python pir_maxpool_grad_abort.py 2>&1 | grep -E 'pooling.*backward|exception'"""
import numpy as np
import paddle

paddle.enable_static()
paddle.set_flags({"FLAGS_use_mkldnn": True})
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    x = paddle.static.data("x", [4, 3, 64, 64], "float32")
    y = paddle.nn.Conv2D(3, 64, 7, stride=2, padding=3)(x)
    y = paddle.nn.functional.max_pool2d(y, 3, 2, 1)
    loss = paddle.mean(paddle.nn.Conv2D(64, 64, 3, padding=1)(y))
    paddle.optimizer.Momentum(0.1, 0.9).minimize(loss)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
print(exe.run(main, feed={"x": np.ones((4, 3, 64, 64), "float32")}, fetch_list=[loss]))
