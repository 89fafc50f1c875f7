"""Convolutions: conv (1-D, 2-D or 3-D as the input), depthwise and transposed."""

from .keys import CONV_KEYS, check_count, check_offset
from .registry import Cost, rule
from .windows import (activation_work, axis_names, elements, kernel_names, need_map, per_axis, product_text,
                      spatial_output, weight_norm, window_keys)


@rule("conv", keys=CONV_KEYS, weight=True, category="conv")
def conv(layer, shape):
    """Convolution (1-D, 2-D or 3-D as the input): Cout*(Cin/groups)*prod(K) weights (+Cout bias);
    MACs Cout*prod(out) * (Cin/groups)*prod(K)."""
    return _convolution(layer, need_map(layer, shape), layer.p["filters"], layer.p["groups"])


@rule("dwconv", keys={**CONV_KEYS, "filters": (check_count, None), "groups": (check_count, None)}, weight=True,
      category="conv")
def dwconv(layer, shape):
    """Depthwise convolution: groups = input channels; filters default to the input channels."""
    channels = need_map(layer, shape)[0]
    filters = layer.p["filters"] or channels
    return _convolution(layer, shape, filters, layer.p["groups"] or channels)


def _check_groups(layer, channels, filters, groups):
    if channels % groups or filters % groups:
        raise layer.error(f"groups {groups} must divide both the input channels {channels} and the filters {filters}",
                          "groups")


def _convolution(layer, shape, filters, groups):
    p = layer.p
    channels = shape[0]
    _check_groups(layer, channels, filters, groups)
    kernel, stride, dilation = window_keys(layer, shape)
    sizes, pad = spatial_output(layer, shape, kernel, stride, p["pad"], dilation)
    window = elements(kernel)
    per_filter = channels // groups * window
    table = p["connections"]
    if table is not None:
        if groups != 1:
            raise layer.error("a connection table and groups cannot be combined", "connections")
        if len(table) != filters:
            raise layer.error(f"connections has {len(table)} rows but the layer has {filters} filters",
                              "connections")
        for row in table:
            for index in row:
                if index >= channels:
                    raise layer.error(f"connections names input map {index}, but the input has {channels} "
                                      f"maps (0-based)", "connections")
        weights = sum(len(row) for row in table) * window
    else:
        weights = filters * per_filter
    bias = filters if p["bias"] else 0
    out = (filters,) + sizes
    macs = elements(sizes) * weights
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out),
                window=tuple(zip(kernel, stride, dilation)))
    cost.filters, cost.kernel, cost.stride, cost.pad = filters, kernel, stride, pad
    if layer.explaining:
        k_names, k_values = kernel_names(shape), product_text(kernel)
        positions = "*".join(f"{name}'" for name in axis_names(shape))
        group_text = f"/{groups}" if groups > 1 else ""
        if table is not None:
            links = sum(len(row) for row in table)
            cost.explain += [
                ("params", f"params = (connections)*{k_names} + Cout = {links}*{k_values} + {bias} = {cost.params:,}"
                 if bias else f"params = (connections)*{k_names} = {links}*{k_values} = {cost.params:,}"),
                ("macs", f"MACs = {positions} * (connections)*{k_names} = {product_text(sizes)} * "
                         f"{links}*{k_values} = {macs:,}"),
            ]
        else:
            bias_text = f" + {bias}" if bias else ""
            cost.explain += [
                ("params", f"params = Cout*(Cin{group_text}*{k_names}){' + Cout' if bias else ''} = "
                           f"{filters}*({channels}{group_text}*{k_values}){bias_text} = {cost.params:,}"),
                ("macs", f"MACs = (Cout*{positions}) * (Cin{group_text}*{k_names}) = ({filters}*{product_text(sizes)})"
                         f" * ({channels}{group_text}*{k_values}) = {macs:,}"),
            ]
    return weight_norm(layer, cost, filters, "filter")


@rule("convtranspose", keys={**CONV_KEYS, "pad": (check_offset, 0), "output_pad": (check_offset, 0)}, weight=True,
      category="conv")
def convtranspose(layer, shape):
    """Transposed conv: out (W-1)*S - 2P + D*(K-1) + output_pad + 1; MACs Cin*prod(in)*(Cout/groups)*prod(K).

    Receptive field: an output position reads floor((K-1)*D/S) + 1 input positions per axis, 1/S apart.
    """
    p = layer.p
    channels = need_map(layer, shape)[0]
    filters, groups = p["filters"], p["groups"]
    if p["connections"] is not None:
        raise layer.error("connections are only for conv", "connections")
    _check_groups(layer, channels, filters, groups)
    kernel, stride, dilation = window_keys(layer, shape)
    pads = per_axis(layer, "pad", p["pad"], shape)
    extras = per_axis(layer, "output_pad", p["output_pad"], shape)
    sizes = []
    for axis, n, k, s, pad, d, extra in zip(axis_names(shape), shape[1:], kernel, stride, pads, dilation, extras):
        if extra >= s and extra >= d:
            raise layer.error(f"output_pad {extra} must be smaller than stride {s} or dilation {d}", "output_pad")
        size = (n - 1) * s - 2 * pad + d * (k - 1) + extra + 1
        if size < 1:
            raise layer.error(f"output {axis} would be {size}: pad {pad} is too large", "pad")
        if layer.explaining:
            layer.notes.append(("size", f"output {axis} = ({n} - 1)*{s} - 2*{pad} + {d}*({k} - 1) + {extra} + 1 "
                                        f"= {size}"))
        sizes.append(size)
    window = elements(kernel)
    weights = channels * (filters // groups) * window
    bias = filters if p["bias"] else 0
    out = (filters,) + tuple(sizes)
    macs = elements(shape) * (filters // groups) * window
    from fractions import Fraction  # here: imported only for a transposed conv (3 ms of every run otherwise)

    steps = tuple(((k - 1) * d // s + 1, Fraction(1, s), 1) for k, s, d in zip(kernel, stride, dilation))
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out), window=steps)
    cost.filters, cost.kernel, cost.stride = filters, kernel, stride
    cost.pad = tuple((x, x) for x in pads)
    if layer.explaining:
        k_names, k_values = kernel_names(shape), product_text(kernel)
        cost.explain += [
            ("params", f"params = Cin*(Cout/groups)*{k_names}{' + Cout' if bias else ''} = "
                       f"{channels}*({filters}/{groups})*{k_values}{f' + {bias}' if bias else ''} = {cost.params:,}"),
            ("macs", f"MACs = Cin*{'*'.join(axis_names(shape))} * (Cout/groups)*{k_names} = {product_text(shape)} * "
                     f"({filters}/{groups})*{k_values} = {macs:,}"),
        ]
    # PyTorch's weight_norm normalises over all but the weight's first axis, Cin for a transposed conv
    return weight_norm(layer, cost, channels, "input channel: the transposed weight is Cin x Cout/groups x K")
