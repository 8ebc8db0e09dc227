"""The front end's two rewrites that keep the meaning (docs/qonnx.md, "Rewrites that keep the
meaning"), each against qonnx's execution of the graph before it: ReduceMean over H, W as
GlobalAveragePool (keepdims 1 and 0; other axes left alone), and integer thresholds clipped to the
input's range (a signed quantizer on uint8 pixels, every one of the 256 inputs)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper


def _reduce_mean_graph(axes: list[int], keepdims: int):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    shape_out = [2, 3] if not keepdims else [2, 3, 1, 1]
    if axes != [2, 3]:
        shape_out = None
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims, name="Mean")], "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape_out)],
        [onnx.numpy_helper.from_array(np.asarray(axes, np.int64), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return ModelWrapper(model).transform(InferShapes())


@pytest.mark.parametrize("axes, keepdims, rewritten", [([2, 3], 1, True), ([2, 3], 0, True), ([-1, -2], 1, True),
                                                       ([1], 1, False), ([1, 2, 3], 1, False)])
def test_reduce_mean_over_h_w_is_global_average_pool(axes, keepdims, rewritten):
    import copy

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw.transforms.passes import ReduceMeanAsGlobalAveragePool

    before = _reduce_mean_graph(axes, keepdims)
    after = ModelWrapper(copy.deepcopy(before.model)).transform(ReduceMeanAsGlobalAveragePool())
    after = after.transform(InferShapes())  # as prepare_qonnx does after it
    ops = [n.op_type for n in after.graph.node]
    assert ("ReduceMean" not in ops) == rewritten and ("GlobalAveragePool" in ops) == rewritten
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    want = execute_onnx(before, {"x": x})["y"]
    got = execute_onnx(after, {"x": x})["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_thresholds_clipped_to_the_input_range_keep_every_output():
    """A signed 8-bit quantizer's thresholds on uint8 pixels (as finn makes them for Brevitas' default
    Int8ActPerTensorFloat on x/255: many below 0): RoundThresholdTies clips them to [0, 256], and a
    MultiThreshold with the clipped thresholds gives qonnx's output for every pixel value."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw.transforms.ties import RoundThresholdTies

    thr = (np.arange(-127.5, 127.5, 1.0) * 2.1 + 3.0).reshape(1, 255)  # -264.75 .. 268.35: both sides out
    node = helper.make_node("MultiThreshold", ["x", "t"], ["y"], domain="qonnx.custom_op.general",
                            out_dtype="INT8", out_bias=-128.0, name="InputQuant")
    graph = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [256, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [256, 1])],
                              [onnx.numpy_helper.from_array(thr.astype(np.float32), "t")])
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    model = model.transform(InferShapes())
    model.set_tensor_datatype("x", DataType["UINT8"])
    x = np.arange(256, dtype=np.float32).reshape(256, 1)
    want = execute_onnx(model, {"x": x})["y"]
    model = model.transform(RoundThresholdTies())
    new = model.get_initializer("t")
    assert new.min() == 0 and new.max() == 256 and (new == 0).sum() > 1 and (new == 256).sum() > 1
    assert np.array_equal(execute_onnx(model, {"x": x})["y"], want)
    assert want.min() > -128 and want.max() < 127  # some thresholds always passed, some never
