"""Build the project's default CT segmentation model as an ONNX graph.

It is not a trained network: it does in ONNX what a radiologist's threshold tool does,
so the imaging pipeline has a real model with the contract any trained one must meet:

    input  `hu`     f32 [N, 1, H, W]  Hounsfield units
    output `scores` f32 [N, C, H, W]  per-label scores that sum to 1 per pixel

Steps: HU windowing (clip to [-1024, 3071]), a 3x3 Gaussian smoothing convolution, then
soft thresholds: background below -400 HU (air, lung), skin/soft tissue from -400 HU, bone
from ~300 HU. Channel order is background, skin, bone (the registry's `labels`).

Usage: python models/build_segmentation.py OUT_DIR
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HU_MIN, HU_MAX = -1024.0, 3071.0
BODY_HU, BONE_HU = -400.0, 300.0
SOFTNESS_HU = 25.0
GAUSSIAN = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16.0
LABELS = ["background", "skin", "bone"]


def const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def build() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Clip", ["hu", "hu_min", "hu_max"], ["windowed"]),
        helper.make_node("Conv", ["windowed", "kernel"], ["smoothed"], pads=[1, 1, 1, 1]),
        helper.make_node("Sub", ["smoothed", "body_hu"], ["above_body"]),
        helper.make_node("Div", ["above_body", "softness"], ["body_logit"]),
        helper.make_node("Sigmoid", ["body_logit"], ["tissue"]),
        helper.make_node("Sub", ["smoothed", "bone_hu"], ["above_bone"]),
        helper.make_node("Div", ["above_bone", "softness"], ["bone_logit"]),
        helper.make_node("Sigmoid", ["bone_logit"], ["bone"]),
        helper.make_node("Sub", ["one", "tissue"], ["background"]),
        helper.make_node("Sub", ["tissue", "bone"], ["skin"]),
        helper.make_node("Concat", ["background", "skin", "bone"], ["scores"], axis=1),
    ]
    initializers = [
        const("hu_min", HU_MIN),
        const("hu_max", HU_MAX),
        const("kernel", GAUSSIAN.reshape(1, 1, 3, 3)),
        const("body_hu", BODY_HU),
        const("bone_hu", BONE_HU),
        const("softness", SOFTNESS_HU),
        const("one", 1.0),
    ]
    graph = helper.make_graph(
        nodes,
        "medrt_threshold_segmentation",
        [helper.make_tensor_value_info("hu", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", len(LABELS), "H", "W"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.doc_string = "labels: " + ",".join(LABELS)
    onnx.checker.check_model(model)
    return model


def reference(hu: np.ndarray) -> np.ndarray:
    """The same computation in numpy, to check the graph."""
    x = np.clip(hu, HU_MIN, HU_MAX)[:, 0]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, w = x.shape[1:]
    smoothed = sum(
        GAUSSIAN[dy, dx] * padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)
    )
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))
    tissue = sigmoid((smoothed - BODY_HU) / SOFTNESS_HU)
    bone = sigmoid((smoothed - BONE_HU) / SOFTNESS_HU)
    return np.stack([1.0 - tissue, tissue - bone, bone], axis=1)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(build(), path)
    rng = np.random.default_rng(7)
    hu = rng.uniform(-1200, 2000, size=(2, 1, 64, 48)).astype(np.float32)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"hu": hu})[0]
    err = np.abs(got - reference(hu)).max()
    if got.shape != (2, len(LABELS), 64, 48) or err > 1e-4:
        sys.exit(f"segmentation graph disagrees with its reference: shape {got.shape}, error {err}")
    print(f"ok: {path} ({len(LABELS)} labels: {', '.join(LABELS)}; max error {err:.2e})")


if __name__ == "__main__":
    main()
