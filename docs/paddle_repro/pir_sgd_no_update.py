"""Paddle 3.3.1, static program with FLAGS_use_mkldnn=1: SGD never updates the weights (PIR: the
loss stays the same and the weight changes by 0.0; with argument 0, i.e. without oneDNN, the loss
falls). Momentum does update (second argument momentum). Under the old IR the same program fails instead, in backward:
'reduce_mean_grad raises an exception dnnl::error, could not reshape a memory descriptor'.

    python pir_sgd_no_update.py 1          # PIR + oneDNN: weight changed by 0.0
    python pir_sgd_no_update.py 0          # PIR, no oneDNN: the weight changes
    python pir_sgd_no_update.py 1 momentum # PIR + oneDNN, Momentum: the weight changes
    FLAGS_enable_pir_api=0 python pir_sgd_no_update.py 1   # old IR + oneDNN: could not reshape"""
import sys

import numpy as np
import paddle

paddle.enable_static()
paddle.seed(0)
paddle.set_flags({"FLAGS_use_mkldnn": sys.argv[1:2] != ["0"]})
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    x = paddle.static.data("x", [4, 8, 16, 16], "float32")
    conv = paddle.nn.Conv2D(8, 8, 3, padding=1)
    loss = paddle.mean(conv(x) ** 2)
    opt = paddle.optimizer.Momentum(0.1, 0.9) if sys.argv[2:] == ["momentum"] else paddle.optimizer.SGD(0.1)
    opt.minimize(loss)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
scope = paddle.static.global_scope()
before = np.array(scope.find_var(conv.weight.name).get_tensor()).copy()
xs = np.random.default_rng(0).random((4, 8, 16, 16), dtype="float32")
for _ in range(3):
    print("loss", float(exe.run(main, feed={"x": xs}, fetch_list=[loss])[0]))
after = np.array(scope.find_var(conv.weight.name).get_tensor())
print("FLAGS_use_mkldnn", paddle.get_flags("FLAGS_use_mkldnn")["FLAGS_use_mkldnn"], type(opt).__name__,
      "weight changed by", float(np.abs(after - before).max()))
