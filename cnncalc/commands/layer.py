"""cnncalc layer: one layer without a spec file, with the worked arithmetic."""

import click

from ..errors import UsageError, did_you_mean
from ..render.shapes import full_shape
from ..numbers import is_tokens, read_decimal, read_sizes, shown
from ..shapes import INPUT_ORDERS, read_layer_input
from .common import DTYPES, WholeNumber, friendly_errors


def rule_options(function):
    """One option per key of the layer rules (rules.RULES), so a new type's keys appear here at once.

    true/false keys are --KEY/--no-KEY flags; every other value is read by the rule's own check (whole
    numbers, HxW pairs, words such as same, numbers), whose placeholder the check declares (rules/keys.py),
    so this command never repeats what the rules know.
    """
    from ..rules import RULES, check_flag, check_reference, check_table

    takers = {}
    for rule in RULES.values():
        if rule.inputs == 1:
            for key, (check, _) in rule.keys.items():
                if check not in (check_table, check_reference):  # tables and layer names need a spec file
                    takers.setdefault(key, (check, [], {}))[1].append(rule.name)
                    # words a key takes, from every type's own list (over: width|tokens for linear, channels too)
                    takers[key][2].update(dict.fromkeys(getattr(check, "choices", ())))
    for key in sorted(takers, reverse=True):
        check, names, words = takers[key]
        flag = "--" + key.replace("_", "-")
        where = f"({', '.join(names)})"
        if check is check_flag:
            function = click.option(f"{flag}/--no-{flag[2:]}", key, default=None, help=where)(function)
        else:
            metavar = "|".join(words) if words else getattr(check, "metavar", "N")
            function = click.option(flag, key, metavar=metavar, help=where)(function)
    return function


def _flag(key, value=None):
    return ("--no-" if value is False else "--") + key.replace("_", "-")


class LayerCommand(click.Command):
    """An unknown option named as PyTorch names it (--out-channels) gets the option it means (--filters)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as err:
            from ..rules.registry import SYNONYMS

            key = err.option_name.lstrip("-").replace("-", "_")
            if key in SYNONYMS and SYNONYMS[key] is None:
                raise click.UsageError(f"No such option '{err.option_name}': {key} comes from --input", ctx)
            if SYNONYMS.get(key):
                err.possibilities = [_flag(SYNONYMS[key])]
            raise


@click.command(cls=LayerCommand)
@click.argument("layer_type", metavar="TYPE")
@click.option("--input", "input_text", required=True, metavar="HxWxC",
              help="The layer's input: 32x32x3 (H x W x C, as in CS231n), 3x32x32 (C x H x W) or 4096 (flat). "
                   "Square maps are read either way, and 1, 3 or 4 at one end only is the channels "
                   "(32x48x3); otherwise give --order. 3x16x112x112 is a clip (C x D x H x W); 197x768 is "
                   "tokens (N x D), or with --order chw a signal (C x L) for a conv or pool.")
@click.option("--order", type=click.Choice(tuple(INPUT_ORDERS)), default=None,
              help="How to read a non-square --input: hwc (H x W x C) or chw (C x H x W); hwc reads a clip as "
                   "D x H x W x C, chw two sizes as C x L.")
@rule_options
@click.option("--batch", type=WholeNumber(), default=1, show_default=True, help="Batch size for memory.")
@click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True, help="Bytes per element.")
@click.option("--format", "-f", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="The worked arithmetic as text, or everything as JSON.")
@click.option("--explain", "explain", is_flag=True, hidden=False,
              help="Show the worked arithmetic (always shown; the flag is accepted as report's --explain is).")
@friendly_errors
def layer(layer_type, input_text, order, batch, dtype, fmt, explain, **options):
    """One layer, no spec file: output shape, params, MACs, memory and receptive field, worked out.

    TYPE is a layer type (listed below); each option says which types take it. --pad same solves
    P = ((O-1)*S - (N-F))/2 for the size-keeping padding.

    \b
    Examples:
      cnncalc layer conv --input 32x32x3 --filters 10 --kernel 5 --stride 1 --pad 2
      cnncalc layer conv --input 7x7x1 --filters 1 --kernel 3 --pad same
      cnncalc layer maxpool --input 55x55x96 --kernel 3 --stride 2
      cnncalc layer fc --input 9216 --units 4096 --no-bias
      cnncalc layer attention --input 197x768 --heads 12
      cnncalc layer conv --input 3x16x112x112 --filters 64 --kernel 3,7,7 --stride 1,2,2 --pad 1,3,3
    """
    from ..report import analyze

    rule = _rule(layer_type)
    shape, reading = read_layer_input(input_text, order, tokens=rule.category not in ("conv", "pool", "global pool"))
    keys = _layer_keys(rule, options)
    same_lines = pad_same_lines(shape, keys) if keys.get("pad") == "same" else []
    spec = {"name": f"{layer_type} layer", "input": {"tokens": list(shape)} if is_tokens(shape) else list(shape),
            "layers": [dict(name=layer_type, type=layer_type, **keys)]}
    report = analyze(spec, batch=batch, dtype=dtype, explain=True)
    row = report.rows[0]
    from ..render.explain import explain_lines

    lines = explain_lines(report, row)
    if fmt == "json":
        import json

        data = {"type": layer_type, "input": list(shape), "input_as_written": input_text, "read_as": reading,
                "batch": batch, "dtype": dtype, "layer": row.to_dict(), "pad_same": same_lines, "explain": lines}
        click.echo(json.dumps(data, indent=2, allow_nan=False))
        return
    head = f"{layer_type} on input {full_shape(shape)}"
    if reading:
        head += f" (--input {input_text} read as {reading}{', the CS231n order' if reading[0] == 'H' else ''})"
    click.echo("\n".join([head, ""] + same_lines + ([""] if same_lines else []) + lines + [""]
                         + summary_lines(report, row, reading)))


def _types_help():
    from ..rules import RULES

    return ", ".join(name for name, rule in RULES.items() if rule.inputs == 1)


layer.help = layer.help.replace("(listed below)", f"({_types_help()})")


def _rule(layer_type):
    from ..rules import RULES

    rule = RULES.get(layer_type)
    if rule is None:
        singles = [name for name, r in RULES.items() if r.inputs == 1]
        raise UsageError(f"unknown layer type '{layer_type}'{did_you_mean(layer_type, singles)} "
                         f"(types: {', '.join(singles)})")
    if rule.inputs != 1:
        raise UsageError(f"{layer_type} merges several inputs; `cnncalc layer` computes one-input layers")
    return rule


def _layer_keys(rule, options):
    from ..rules import REQUIRED

    keys = {}
    for key, value in options.items():
        if value is None:
            continue
        if key not in rule.keys:
            takes = ", ".join(_flag(k) for k in rule.keys if k in options) or "no options"
            raise UsageError(f"{_flag(key, value)} does not apply to {rule.name} (it takes: {takes})")
        keys[key] = _option_value(key, value, rule.keys[key][0])
    missing = [_flag(key) for key, (_, default) in rule.keys.items() if default is REQUIRED and key not in keys]
    if missing:
        raise UsageError(f"{rule.name} needs {' and '.join(missing)}")
    return keys


def _option_value(key, value, check):
    """An option's text as the spec would write it; the rule's check then validates it."""
    from .. import rules

    if isinstance(value, bool) or check is rules.check_activation or hasattr(check, "choices"):
        return value
    text = value.strip().lower()
    if check is rules.check_scale:
        try:  # 1.5, or per axis 2x1.5
            factors = [read_decimal(part) for part in text.strip("[]()").replace("×", "x").split("x")]
        except ValueError:
            raise UsageError(f"{_flag(key)} must be a number or HxW, not '{shown(value)}'") from None
        factors = [int(f) if f == f.to_integral_value() else float(f) for f in factors]
        return factors[0] if len(factors) == 1 else factors
    if check is rules.check_pad and text in ("same", "valid"):
        return text
    if check is rules.check_number:
        try:
            return float(read_decimal(text))  # ASCII digits only: not float("２"), "nan" or "1_0"
        except ValueError:
            raise UsageError(f"{_flag(key)} must be a number, not '{shown(value)}'") from None
    try:
        sizes = read_sizes(text)
    except ValueError:
        sizes = []
    if not 1 <= len(sizes) <= 3:
        raise UsageError(f"{_flag(key)} must be a whole number, HxW or DxHxW, not '{shown(value)}'")
    return sizes[0] if len(sizes) == 1 else sizes


def pad_same_lines(shape, keys):
    """The padding that keeps the size, solved as in the seed notes: P = ((O-1)*S - (N-F))/2."""
    from ..rules import resolve_same_pad

    spatial = tuple(shape[1:])
    if len(shape) not in (2, 3, 4) or is_tokens(shape):
        return []
    names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[len(spatial)]
    per_axis = [_per_axis(keys.get(name, default), len(spatial))
                for name, default in (("kernel", 1), ("stride", 1), ("dilation", 1))]
    lines = []
    if len(set(spatial)) == 1 and all(len(set(values)) == 1 for values in per_axis):
        axes = [("/".join(names), 0)]  # every axis alike: solved once (H/W)
    else:
        axes = list(zip(names, range(len(spatial))))
    for axis, index in axes:
        kernel, stride, dilation = (values[index] for values in per_axis)
        size = spatial[index]
        lines += _solve_axis(axis, size, kernel, stride, dilation, resolve_same_pad(size, kernel, stride, dilation))
    return lines


def _solve_axis(axis, n, k, s, d, resolved):
    f = d * (k - 1) + 1
    lines = []
    if d != 1:
        lines.append(f"pad same ({axis}): dilated window F = D*(K-1) + 1 = {d}*({k}-1) + 1 = {f}")
    if s == 1:
        o = n
        keep = f"keep {axis} = {n} at stride 1 (O = N)"
    else:
        o = -(-n // s)
        keep = f"stride {s}: O = ceil(N/S) = ceil({n}/{s}) = {o} (TensorFlow's 'same')"
    total = (o - 1) * s - (n - f)
    lines.append(f"pad same ({axis}): {keep}: P = ((O-1)*S - (N-F))/2 = (({o}-1)*{s} - ({n}-{f}))/2 "
                 f"= ({(o - 1) * s} - {n - f})/2 = {_half(total)}")
    before, after = resolved
    if total <= 0:
        lines.append(f"pad same ({axis}): no padding is needed (P = 0)")
    elif total % 2:
        lines.append(f"pad same ({axis}): the total padding {total} is odd, so it cannot be split evenly: "
                     f"{before} before and {after} after (the extra pixel goes after, as TensorFlow and "
                     f"PyTorch's padding='same' do)")
    return lines


def _half(total):
    return str(total // 2) if total % 2 == 0 else f"{total}/2 = {total / 2:g}"


def _per_axis(value, rank):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank


def summary_lines(report, row, reading):
    from ..render.shapes import pair_text
    from ..render.units import human_bytes

    out = full_shape(row.out_shape)
    if reading == INPUT_ORDERS["hwc"] and len(row.out_shape) == 3:
        c, h, w = row.out_shape
        out = f"{h}x{w}x{c} (H x W x C) = {out} (C x H x W)"
    rf = row.receptive_field
    rows = [("output shape", out), ("params", f"{row.params:,}"), ("MACs", f"{row.macs:,}"),
            ("flop (lecture)", f"{row.flops:,}"),
            ("memory", f"{row.memory_bytes:,} B" + (f" ({human_bytes(row.memory_bytes)})"
                                                    if row.memory_bytes >= 1024 else "")),
            ("receptive field", f"{'x'.join(map(str, rf))}{' tokens' if is_tokens(report.input) else ''}, "
                                f"effective stride {pair_text(row.effective_stride)}")]
    return [f"{label:<16} {value}" for label, value in rows]
