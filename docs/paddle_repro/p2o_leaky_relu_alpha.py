"""paddle2onnx 2.1.0 with Paddle 3.3.1: leaky_relu's slope is lost. Paddle >= 3.3 stores it as the
double attribute 'negative_slope'; paddle2onnx reads a float 'alpha', so the ONNX LeakyRelu gets an
uninitialised alpha (0.0 from a .pdmodel, ~-7e-14 from a PIR .json here; garbage elsewhere).

    python p2o_leaky_relu_alpha.py          # prints alpha 0.0 and ONNX Runtime's -0.0 against Paddle's -0.05"""
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import paddle
import paddle2onnx


class Leaky(paddle.nn.Layer):
    def forward(self, x):
        return paddle.nn.functional.leaky_relu(x, 0.01)


x = np.array([[-5.0, 5.0]], dtype="float32")
prefix = os.path.join(tempfile.mkdtemp(), "leaky")
with paddle.pir_utils.DygraphOldIrGuard():  # .pdmodel; drop this line for PIR .json (same bug)
    spec = [paddle.static.InputSpec([1, 2], "float32", "x")]
    paddle.jit.save(paddle.jit.to_static(Leaky(), spec, full_graph=True), prefix)
model = prefix + (".pdmodel" if os.path.exists(prefix + ".pdmodel") else ".json")
paddle2onnx.export(model, prefix + ".pdiparams", save_file=prefix + ".onnx", optimize_tool="None", verbose=False)
print("ONNX LeakyRelu alpha:", [a.f for n in onnx.load(prefix + ".onnx").graph.node for a in n.attribute])
session = ort.InferenceSession(prefix + ".onnx", providers=["CPUExecutionProvider"])
print("onnxruntime:", session.run(None, {session.get_inputs()[0].name: x})[0],
      "paddle:", paddle.nn.functional.leaky_relu(paddle.to_tensor(x)).numpy())
