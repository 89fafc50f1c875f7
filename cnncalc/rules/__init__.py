"""One rule per layer type: output shape, params, buffers, MACs, flop and the receptive-field step.

Stage three of the pipeline. Every layer type is a function registered with ``@rule`` (registry.py)
together with the keys it accepts (validated by keys.py); :func:`apply` validates a layer's keys and runs
its rule. A rule returns a :class:`Cost`. The rules live by family (conv, pool, dense, elementwise, learned,
resample, merge, tokens, attention, matmul, separable; attention's variants in modules of their own) and
share windows.py's arithmetic; imports go one way: families -> windows/keys -> registry. The counting
conventions (docs/conventions.md) are written beside each rule:

* MACs: conv ``Cout*H'*W' * (Cin/groups)*Kh*Kw``, fc ``in*out``, linear on a map ``positions*in*out``,
  transposed conv ``Cin*H*W * (Cout/groups)*Kh*Kw``, and products of two activations (attention's QK^T and
  AV, ``matmul``); nothing else. Bias adds are not counted.
* flop (lecture): MACs, plus ``C*H'*W' * Kh*Kw`` for pooling layers.
* elementwise: the extra work the "2 x MACs + elementwise" FLOPs convention adds
  (one op per output element for activations, bias, add, mul and scale; two for batch norm; four
  for layer/group/instance norm plus one with an affine; the window for pools; the input points an
  interpolated output element reads for upsample).

Shapes are tuples: ``(C, L)``, ``(C, H, W)`` or ``(C, D, H, W)`` for a feature map of rank 1, 2 or 3
(the input's rank), ``(N,)`` for a flat vector. Sizes per spatial axis (kernel, stride, pad...) are
tuples of that rank.

Importing this package imports every family, so every rule is in ``RULES``; the names the rest of
cnncalc uses are re-exported here (callers write ``rules.apply``, ``rules.check_size``...).
"""

from .registry import (CATEGORIES, EXPLAIN_QUANTITIES, REQUIRED, RULES, Cost, Layer, Rule, apply, check_keys,  # noqa: F401
                       elements, lookup, rule, scratch_elements, show_shape, validate)
from .keys import (ACTIVATION_PARAMETERS, ACTIVATIONS, check_activation, check_channel_pad,  # noqa: F401
                   check_choice, check_count, check_flag, check_index, check_number, check_offset, check_pad,
                   check_range, check_reference, check_scale, check_size, check_table, whole_schema)
from .windows import AXIS_NAMES, per_axis, resolve_same_pad  # noqa: F401

# The families, in the order their types are listed (RULES keeps registration order).
from . import conv, pool, dense, elementwise, learned, resample, merge, tokens, attention, matmul, separable  # noqa: F401,E402
from .pool import _adaptive_windows  # noqa: F401
