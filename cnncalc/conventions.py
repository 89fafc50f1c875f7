"""The counting conventions, stated once: the report footer prints them, the docs quote them, the tests read them."""

CONVENTIONS = (
    "Conventions: output = floor((W + 2P - D*(K-1) - 1)/S) + 1; params include biases (BN running stats are "
    "buffers, not params); MACs (per sample) count conv, fc and linear multiply-accumulates and products of two activations "
    "(attention's QK^T and AV, matmul) only; flop = MACs + pooling windows (lecture convention, multiply+add "
    "counted as one); memory = output elements x batch x bytes per element (an attention layer adds its Q, K, V, "
    "attention map and weighted sum), KB = 1024 B; peak = most memory live at once in inference (layers in order, "
    "each output freed after its last consumer); the network input is not counted."
)

FLOPS_2X_NOTE = ("FLOPs 2x = 2 x MACs + elementwise work: one op per output element for bias, activations, add, "
                 "mul, scale and shift (two for a scale with its bias), two for batch norm, four (five with an affine) for layer/group/instance norm, the "
                 "window for pools, the input points read per interpolated element for upsample; attention adds "
                 "its biases and four per attention-map element (the scale and softmax's three; five with a position "
                 "bias).")

ROOFLINE_NOTE = ("Roofline (--device): bytes moved = (elements of the inputs read + of the output written) x batch + "
                 "params and buffers read once, x bytes per element; intensity = FLOPs 2x (x batch) / bytes moved; "
                 "time = max(FLOPs / peak, bytes / bandwidth), the layer memory-bound when the second is larger; "
                 "the total is the layers' sum. A lower bound: no kernel launch cost, no cache reuse across "
                 "layers, no overlap of layers, peak dense FLOP/s of the datasheet (at int8 its integer operations a "
                 "second, TOPS: each FLOP an operation; 1 GB/s = 10^9 B/s).")

# Said of an ONNX model whose exporter folded BatchNorm into the convs (torch.export's optimizer): in the
# model's source, and as a note under its table.
FOLDED_BN = ("BatchNorm was folded into the convs by the exporter: params are the folded model's (a conv bias "
             "of C instead of BN's 2C params and 2C buffers)")
