"""Dense layers: fc, linear (fc on a flat input, per position on a map) and flatten."""

from .keys import check_activation, check_choice, check_count, check_flag
from .registry import REQUIRED, Cost, rule
from ..numbers import Tokens, is_tokens
from .windows import (activation_work, elements, positions, product_text, show_shape, weight_norm, width,
                      with_width)

DENSE_KEYS = {"units": (check_count, REQUIRED), "bias": (check_flag, True), "act": (check_activation, None),
              "weightnorm": (check_flag, False)}


@rule("fc", keys=DENSE_KEYS, weight=True, category="fc")
def fc(layer, shape):
    """Fully connected: in*out weights (+out bias), in*out MACs; a map input is flattened first."""
    inputs, units = elements(shape), layer.p["units"]
    bias = units if layer.p["bias"] else 0
    cost = Cost((units,), params=inputs * units + bias, macs=inputs * units,
                elementwise=(units if bias else 0) + activation_work(layer, (units,)), window="global")
    cost.filters = units
    if layer.explaining:
        flat = f" (the {show_shape(shape)} input flattened)" if len(shape) > 1 else ""
        cost.explain += [
            ("params", f"params = in*out{' + out' if bias else ''} = {inputs}*{units}{f' + {units}' if bias else ''} = "
                       f"{cost.params:,}{flat}"),
            ("macs", f"MACs = in*out = {inputs}*{units} = {cost.macs:,}"),
        ]
    return weight_norm(layer, cost, units, "output unit")


# over: tokens mixes the tokens (MLP-Mixer's token MLP: a Linear on the transposed tokens)
LINEAR_KEYS = {**DENSE_KEYS, "over": (check_choice("width", "tokens"), "width")}


@rule("linear", keys=LINEAR_KEYS, weight=True, category="fc")
def linear(layer, shape):
    """Linear: fc on a flat input; on a map, the same in*out weights act on the channels at every position
    (PyTorch's Linear on a channels-last tensor): output units x H x W, MACs positions*in*out; on N x D tokens,
    on each token's width: output N x units, MACs N*in*out; with ``over: tokens``, across the N tokens, for
    each of the D features: output units x D, params N*units (+units), MACs D*N*units."""
    if layer.p["over"] == "tokens":
        return _token_mixing(layer, shape)
    if len(shape) == 1:
        return fc(layer, shape)
    channels, units, count = width(shape), layer.p["units"], positions(shape)
    bias = units if layer.p["bias"] else 0
    out = with_width(shape, units)
    cost = Cost(out, params=channels * units + bias, macs=count * channels * units,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out))
    cost.filters = units
    if layer.explaining:
        cost.explain += [
            ("params", f"params = in*out{' + out' if bias else ''} = {channels}*{units}"
                       f"{f' + {units}' if bias else ''} = {cost.params:,} (in = the {channels} "
                       f"{'token width' if is_tokens(shape) else 'channels'})"),
            ("macs", f"MACs = {'tokens' if is_tokens(shape) else 'positions'} * in*out = "
                     f"{shape[0] if is_tokens(shape) else product_text(shape[1:])} * {channels}*{units} = "
                     f"{cost.macs:,}"),
        ]
    return weight_norm(layer, cost, units, "output unit")


@rule("flatten")
def flatten(layer, shape):
    """Flatten C x H x W to C*H*W."""
    return Cost((elements(shape),))


def _token_mixing(layer, shape):
    if not is_tokens(shape):
        raise layer.error(f"over: tokens needs tokens (N x D), but the input is {show_shape(shape)}", "over")
    count, features, units = shape[0], shape[1], layer.p["units"]
    bias = units if layer.p["bias"] else 0
    out = Tokens(units, features)
    cost = Cost(out, params=count * units + bias, macs=features * count * units,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out), window="global")
    cost.filters = units
    if layer.explaining:
        cost.explain += [
            ("params", f"params = in*out{' + out' if bias else ''} = {count}*{units}"
                       f"{f' + {units}' if bias else ''} = {cost.params:,} (in = the {count} tokens: the same "
                       f"weights mix the tokens for each of the {features} features)"),
            ("macs", f"MACs = features * in*out = {features} * {count}*{units} = {cost.macs:,}"),
        ]
    return weight_norm(layer, cost, units, "output unit")
