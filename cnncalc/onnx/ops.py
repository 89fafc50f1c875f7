"""The ONNX operators cnncalc reads, each with the function that maps it to spec layers (see README, "ONNX
models").

A function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes (a dict), and
sets the node's outputs: a layer it emits, a tensor passed on, or a constant. Constant and CastLike nodes,
and any node whose inputs are all constants (the Shape/Gather/Concat/... arithmetic a tracer records),
are handled by the reader itself.
"""

from . import activations
from . import gelu
from . import grn
from . import layers
from . import positions
from . import reshapes
from . import slices

OPERATORS = {
    "Conv": layers.conv,
    "ConvTranspose": layers.conv_transpose,
    "Gemm": layers.gemm,
    "MatMul": layers.matmul,
    "BatchNormalization": layers.batch_norm,
    "LRN": layers.lrn,
    "MaxPool": layers.max_pool,
    "AveragePool": layers.average_pool,
    "GlobalAveragePool": layers.global_average_pool,
    "GlobalMaxPool": layers.global_max_pool,
    "ReduceMean": layers.reduce_mean,
    "ReduceMax": layers.reduce_max,
    "ReduceL2": grn.reduce_l2,
    **{op: activations.activation for op in activations.ACTIVATIONS},
    "Clip": activations.clip,
    "LeakyRelu": activations.leaky_relu,
    "PRelu": activations.prelu,
    "Softmax": activations.softmax,
    "LogSoftmax": activations.softmax,
    "Mul": positions.scale_by_constant,
    "Div": positions.scale_by_constant,
    "Pow": gelu.power,
    "Sub": positions.sub,
    "LayerNormalization": positions.layer_normalization,
    **{op: reshapes.pass_through for op in ("Identity", "Cast", "QuantizeLinear", "DequantizeLinear", "Dropout")},
    "Shape": reshapes.shape,
    "Size": reshapes.size,
    "Flatten": reshapes.flatten,
    "Squeeze": reshapes.squeeze,
    "Reshape": reshapes.reshape,
    "Transpose": reshapes.transpose,
    "Pad": reshapes.pad,
    "Split": slices.split,
    "Unsqueeze": reshapes.unsqueeze,
    "ReduceSum": reshapes.reduce_sum,
    "Gather": reshapes.gather,
    "Slice": slices.slice_,
    "Concat": reshapes.concat,
    "Add": reshapes.add,
    "Resize": reshapes.resize,
    "Upsample": reshapes.upsample,
}

# functional ops: named after their scope and op even when alone in it (``layer1.0.add``)
FUNCTIONAL = ("Add", "Sub", "Mul", "Div", "Concat", "Split", "Slice", "Flatten", "Reshape", "Squeeze",
              "Transpose", "Resize", "Upsample", "ReduceMean", "ReduceMax", "Softmax", "LogSoftmax")
# Erf is read inside GELU, InstanceNormalization inside a written-out GroupNorm, with Constant and CastLike by the reader itself
SUPPORTED = sorted(set(OPERATORS) | {"Constant", "CastLike", "Erf", "InstanceNormalization"})
