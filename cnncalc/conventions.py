"""The counting conventions, stated once: the report footer prints them, the docs quote them, the tests read them."""

CONVENTIONS = (
    "Conventions: output = floor((W + 2P - D*(K-1) - 1)/S) + 1; params include biases (BN running stats are "
    "buffers, not params); MACs count conv, fc and linear multiply-accumulates and products of two activations "
    "(attention's QK^T and AV, matmul) only; flop = MACs + pooling windows (lecture convention, multiply+add "
    "counted as one); memory = output elements x batch x bytes per element (an attention layer adds its Q, K, V, "
    "attention map and weighted sum), KB = 1024 B; peak = most memory live at once in inference (layers in order, "
    "each output freed after its last consumer); the network input is not counted."
)

FLOPS_2X_NOTE = ("FLOPs 2x = 2 x MACs + elementwise work: one op per output element for bias, activations, add, "
                 "mul and scale, two for batch norm, four (five with an affine) for layer/group/instance norm, the "
                 "window for pools, the input points read per interpolated element for upsample; attention adds "
                 "its biases and four per attention-map element (the scale and softmax's three; five with a position "
                 "bias).")


# Said of an ONNX model whose exporter folded BatchNorm into the convs (torch.export's optimizer): in the
# model's source, and as a note under its table.
FOLDED_BN = ("BatchNorm was folded into the convs by the exporter: params are the folded model's (a conv bias "
             "of C instead of BN's 2C params and 2C buffers)")
