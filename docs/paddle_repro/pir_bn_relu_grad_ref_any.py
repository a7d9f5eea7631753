"""Paddle 3.3.1, static program (PIR) with FLAGS_use_mkldnn=1: BatchNorm and ReLU backward run
oneDNN's reference kernels ('ref:any'), because their forward data is channel-last (acdb, written by
the forward convolution) while the incoming gradient is blocked (aBcd8b, from the next convolution's
backward-data) and Paddle's oneDNN grad kernels do not reorder the gradient to the data's layout.

    ONEDNN_VERBOSE=1 python pir_bn_relu_grad_ref_any.py | grep -E 'exec.*(batch_norm|eltwise).*backward'

Seen on an AVX2 CPU: ...,eltwise,ref:any,backward_data,data:f32::blocked:acdb::f0
diff:f32::blocked:aBcd8b::f0,...  and the same for batch_normalization (on AVX-512 CPUs the
blocked layout is aBcd16b; a ResNet-18 step there ran 64 of 80 BN-backward calls in ref:any)."""
import numpy as np
import paddle

paddle.enable_static()
paddle.set_flags({"FLAGS_use_mkldnn": True})
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    x = paddle.static.data("x", [4, 64, 28, 28], "float32")
    y = paddle.nn.Conv2D(64, 64, 3, padding=1, bias_attr=False)(x)
    y = paddle.nn.functional.relu(paddle.nn.BatchNorm2D(64)(y))
    loss = paddle.mean(paddle.nn.Conv2D(64, 64, 3, padding=1, bias_attr=False)(y))
    paddle.optimizer.Momentum(0.1, 0.9).minimize(loss)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
print(exe.run(main, feed={"x": np.ones((4, 64, 28, 28), "float32")}, fetch_list=[loss]))
