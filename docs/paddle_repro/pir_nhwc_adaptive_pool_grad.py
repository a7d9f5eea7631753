"""Paddle 3.3.1, static program (PIR) with FLAGS_use_mkldnn=1, channel-last (NHWC) model: the
backward of adaptive average pooling fails in onednn_op.pool2d_grad with
'create:check,pooling,dimension src:1 is inconsistent with dst:1' (the channel counts of the
descriptor's source and destination differ: most likely the NHWC dimensions reach the
pooling-backward descriptor in NHWC order where oneDNN expects NCHW order). So NHWC does not
avoid the layout trouble of pir_bn_relu_grad_ref_any.py.

    ONEDNN_VERBOSE=all python pir_nhwc_adaptive_pool_grad.py 2>&1 | grep -E 'inconsistent|exception'"""
import numpy as np
import paddle

paddle.enable_static()
paddle.set_flags({"FLAGS_use_mkldnn": True})
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    x = paddle.static.data("x", [4, 28, 28, 64], "float32")
    y = paddle.nn.Conv2D(64, 64, 3, padding=1, bias_attr=False, data_format="NHWC")(x)
    y = paddle.nn.functional.relu(paddle.nn.BatchNorm2D(64, data_format="NHWC")(y))
    y = paddle.nn.AdaptiveAvgPool2D(1, data_format="NHWC")(y)
    loss = paddle.mean(paddle.nn.Linear(64, 10)(paddle.flatten(y, 1)))
    paddle.optimizer.Momentum(0.1, 0.9).minimize(loss)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
print(exe.run(main, feed={"x": np.ones((4, 28, 28, 64), "float32")}, fetch_list=[loss]))
