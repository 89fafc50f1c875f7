"""Normalisation, activations and the other layers that keep the map's positions: dropout, identity, scale,
shift, channel shuffle, chunk and slice."""

from ..numbers import is_tokens
from .keys import (ACTIVATIONS, check_activation, check_count, check_flag, check_index, check_number,
                   check_range)
from .registry import REQUIRED, Cost, rule
from .windows import activation_work, elements, need_map, width, with_width


@rule("bn", keys={"affine": (check_flag, True), "act": (check_activation, None)})
def batchnorm(layer, shape):
    """Batch norm: 2C trainable params (scale, shift; none with affine: false) and 2C running-statistics
    buffers; on N x D tokens C is the width D (BatchNorm1d over the tokens' features: LeViT's LinearNorm)."""
    channels = width(shape)
    params = 2 * channels if layer.p["affine"] else 0
    cost = Cost(shape, params=params, buffers=2 * channels,
                elementwise=2 * elements(shape) + activation_work(layer, shape))
    if layer.explaining:
        text = f"params = 2*C = 2*{channels} = {params:,} (scale and shift)" if params else "params = 0 (affine: false)"
        cost.explain.append(("params", f"{text}; buffers = 2*C = {2 * channels:,} (running mean and variance, not "
                                       f"params)"))
    return cost


def _norm(layer, shape, affine, what, buffers=0, bias=True):
    """A norm that computes its statistics at inference: 2C params with an affine (scale and shift; C, the scale,
    without the bias), no buffers unless it tracks running statistics; 4 ops per element (+1 with the affine)."""
    channels = width(shape)
    params = (2 if bias else 1) * channels if affine else 0
    cost = Cost(shape, params=params, buffers=buffers,
                elementwise=(5 if affine else 4) * elements(shape) + activation_work(layer, shape))
    if layer.explaining:
        text = (f"params = 2*C = 2*{channels} = {params:,} (scale and shift)" if affine and bias
                else f"params = C = {channels} (the scale; bias: false)" if affine else "params = 0 (affine: false)")
        kept = f"buffers = 2*C = {buffers:,} (running mean and variance)" if buffers else "no buffers"
        cost.explain.append(("params", f"{text}; {kept}; statistics over {what}"))
    return cost


NORM_KEYS = {"affine": (check_flag, True), "act": (check_activation, None)}


@rule("layernorm", keys={**NORM_KEYS, "bias": (check_flag, True)})
def layernorm(layer, shape):
    """Layer norm over the channels at each position (ConvNeXt), the width of each token (transformers), or a
    flat input's features: 2C (2D) params, C with ``bias: false`` (the scale only: MetaFormer's), no buffers."""
    over = ("the width of each token" if is_tokens(shape) else "the channels at each position" if len(shape) > 1
            else "the features")
    return _norm(layer, shape, layer.p["affine"], over, bias=layer.p["bias"])


@rule("groupnorm", keys={"groups": (check_count, REQUIRED), **NORM_KEYS})
def groupnorm(layer, shape):
    """Group norm: ``groups`` must divide the channels; 2C params, no buffers."""
    if shape[0] % layer.p["groups"]:
        raise layer.error(f"groups {layer.p['groups']} must divide the {shape[0]} channels", "groups")
    return _norm(layer, shape, layer.p["affine"], f"{layer.p['groups']} groups of {shape[0] // layer.p['groups']} "
                                                  f"channels")


@rule("instancenorm", keys={"affine": (check_flag, False), "track_running_stats": (check_flag, False),
                            "act": (check_activation, None)})
def instancenorm(layer, shape):
    """Instance norm (PyTorch defaults: affine false, track_running_stats false): 2C params with affine,
    2C buffers with track_running_stats."""
    need_map(layer, shape)
    buffers = 2 * shape[0] if layer.p["track_running_stats"] else 0
    return _norm(layer, shape, layer.p["affine"], "each channel's map", buffers)


@rule("scale", keys={"bias": (check_flag, False), "shared": (check_flag, False)})
def layer_scale(layer, shape):
    """A learned per-channel multiplier (ConvNeXt's layer scale): C params, one op per element; ``bias: true``
    adds a learned per-channel shift after it (ResMLP's Affine, alpha * x + beta): 2C params, two ops;
    ``shared: true`` learns one value for all channels (NFNet's skipinit gain): 1 param (2 with bias)."""
    channels, terms = 1 if layer.p["shared"] else width(shape), 2 if layer.p["bias"] else 1
    cost = Cost(shape, params=terms * channels, elementwise=terms * elements(shape))
    if layer.explaining:
        if layer.p["shared"]:
            text = ("params = 2 (one multiplier and one shift for all channels)" if terms > 1
                    else "params = 1 (one multiplier for all channels)")
        else:
            text = (f"params = 2*C = 2*{channels} = {cost.params:,} (one multiplier and one shift per channel)"
                    if terms > 1 else f"params = C = {channels} (one multiplier per channel)")
        cost.explain.append(("params", text))
    return cost


@rule("shift")
def shift(layer, shape):
    """A learned per-channel vector added (a bias on its own): C params, one op per element."""
    cost = Cost(shape, params=width(shape), elementwise=elements(shape))
    if layer.explaining:
        cost.explain.append(("params", f"params = C = {width(shape)} (one learned value added per channel)"))
    return cost


@rule("lrn", keys={"size": (check_count, 5), "alpha": (check_number, 1e-4), "beta": (check_number, 0.75),
                   "k": (check_number, 2)})
def lrn(layer, shape):
    """Local response normalisation (AlexNet, GoogLeNet): no params."""
    return Cost(shape, elementwise=elements(shape) * layer.p["size"])


@rule("dropout", keys={"p": (check_number, 0.5)})
def dropout(layer, shape):
    """Dropout: the identity at inference."""
    return Cost(shape)


@rule("identity")
def identity(layer, shape):
    """Identity: passes its input on (a named tap or a shortcut)."""
    return Cost(shape)


@rule(*[name for name in ACTIVATIONS if name != "leakyrelu"])
def activation(layer, shape):
    """Activation: no params; one op per element in the elementwise convention."""
    return Cost(shape, elementwise=elements(shape))


@rule("leakyrelu", keys={"slope": (check_number, 0.01)})
def leaky_relu(layer, shape):
    """Leaky ReLU: no params."""
    return Cost(shape, elementwise=elements(shape))


@rule("prelu", keys={"shared": (check_flag, True)})
def prelu(layer, shape):
    """PReLU: one learned slope (shared: true, PyTorch's default) or one per channel."""
    return Cost(shape, params=1 if layer.p["shared"] else width(shape), elementwise=elements(shape))


@rule("softmax")
def softmax(layer, shape):
    """Softmax: no params."""
    return Cost(shape, elementwise=3 * elements(shape))


@rule("shuffle", keys={"groups": (check_count, REQUIRED)})
def shuffle(layer, shape):
    """Channel shuffle (ShuffleNet): reorders channels; groups must divide them."""
    if shape[0] % layer.p["groups"]:
        raise layer.error(f"groups {layer.p['groups']} must divide the {shape[0]} channels", "groups")
    return Cost(shape)


@rule("chunk", keys={"chunks": (check_count, REQUIRED), "index": (check_index, REQUIRED)})
def chunk(layer, shape):
    """One of ``chunks`` channel slices, ``index`` from 0, as ``torch.chunk`` cuts them: each ceil(C/chunks)
    wide, the last what is left (ShuffleNet v2's split in two halves; EdgeNeXt's 160 channels in 3: 54, 54, 52)."""
    chunks, index, channels = layer.p["chunks"], layer.p["index"], width(shape)
    if index >= chunks:
        raise layer.error(f"index {index} must be below chunks {chunks}", "index")
    size = -(-channels // chunks)
    part = min(channels, (index + 1) * size) - index * size
    if part <= 0:
        raise layer.error(f"chunk {index} of {channels} channels in chunks of ceil({channels}/{chunks}) = {size} is "
                          f"empty (torch.chunk gives {-(-channels // size)} parts)", "index")
    cost = Cost(with_width(shape, part))
    if layer.explaining and channels % chunks:
        cost.explain.append(("output_shape", f"chunks of ceil(C/chunks) = ceil({channels}/{chunks}) = {size} "
                                             f"channels (torch.chunk); chunk {index}: channels {index * size} to "
                                             f"{index * size + part - 1}, {part} wide"))
    return cost


@rule("slice", keys={"channels": (check_range, REQUIRED)})
def slice_(layer, shape):
    """Channels ``start`` up to, not including, ``stop``: PyTorch's ``x[:, start:stop]`` (DPN's split of a conv's
    output into a residual part and a dense part of unequal widths); on N x D tokens, features of the width."""
    (start, stop), channels = layer.p["channels"], width(shape)
    if stop > channels:
        raise layer.error(f"channels [{start}, {stop}] run past the input's {channels} channels (stop is at most "
                          f"{channels})", "channels")
    cost = Cost(with_width(shape, stop - start))
    if layer.explaining:
        cost.explain.append(("output_shape", f"channels {start} to {stop - 1} of {channels} (x[:, {start}:{stop}]): "
                                             f"{stop} - {start} = {stop - start} wide"))
    return cost
