"""Worked arithmetic, lecture style: one layer's (``--explain``), or a block's sums and then each layer's."""

from .shapes import full_shape, pair_text
from .units import rate_text, scaled, share_text, time_text
from ..numbers import plural

def explain_text(report, name):
    """``--explain NAME``: a layer's worked arithmetic, or a block's summed figures and then each layer's."""
    rows = report.block(name)
    if len(rows) == 1 and rows[0].name == name:
        return "\n".join(explain_lines(report, rows[0]))
    members = rows[0].name if len(rows) == 1 else f"{rows[0].name} ... {rows[-1].name}"
    head = (f"{name}: a block of {plural(len(rows), 'layer')} ({members}), input "
            f"{full_shape(rows[0].in_shape)}, output {full_shape(rows[-1].out_shape)}; its row sums them:")
    lines = [head]
    for label, field in (("params", "params"), ("MACs", "macs"), ("flop (lecture)", "flops"),
                         ("memory (B)", "memory_bytes")):
        terms = [f"{getattr(row, field):,}" for row in rows if getattr(row, field)]
        total = sum(getattr(row, field) for row in rows)
        lines.append(f"{label} = {' + '.join(terms)} = {total:,}" if len(terms) > 1 else f"{label} = {total:,}")
    if rows[0].roofline is not None and rows[0].roofline.time_s is not None:
        block = sum((row.roofline for row in rows[1:]), rows[0].roofline)
        lines.append(f"bytes moved = {block.bytes_moved:,} B; roofline time = the layers' sum = "
                     f"{time_text(block.time_s)}, {share_text(block.memory_bound_share)} of it in memory-bound "
                     f"layers ({block.memory_bound_layers} of {block.layers})")
    return "\n\n".join(["\n".join(lines)] + ["\n".join(explain_lines(report, row)) for row in rows])


def explain_lines(report, row):
    """The lecture-style worked arithmetic for one row (``analyze(..., explain=[name])``), as text lines."""
    return [text for _, text in explain_data(report, row)]


def explain_data(report, row):
    """The worked arithmetic for one row as (quantity, text) pairs, headed by ("layer", ...).

    The rules tag their lines (see rules.EXPLAIN_QUANTITIES); what a rule leaves out (memory, and
    params, MACs or receptive field where it has no arithmetic to show) is filled in here.
    """
    lines = [("layer", f"{row.name} ({row.type}{', then ' + row.act if row.act else ''}), "
                       f"from {', '.join(row.inputs)}: input {full_shape(row.in_shape)}")]
    given = {quantity for quantity, _ in row.explain}
    lines += [entry for entry in row.explain if entry[0] != "receptive_field"]
    lines.append(("output_shape", f"output = {full_shape(row.out_shape)}"))
    count = "*".join(str(s) for s in row.out_shape)
    elements = 1
    for size in row.out_shape:
        elements *= size  # what the output takes, also for a train_only row that eval mode counts as 0
    if row.scratch:  # attention: what the layer writes besides its output counts too
        parts = [f"output {count}"] + [f"{what} {formula}" for what, formula, _ in row.scratch]
        elements += sum(number for _, _, number in row.scratch)
        count = f"({' + '.join(parts)} = {elements:,})"
    memory = report.batch * report.bytes_per_element * elements
    batch = f" * {report.batch}" if report.batch != 1 else ""
    lines.append(("memory", f"memory = {count}{batch} * {report.bytes_per_element} B = {memory:,} B = "
                            f"{scaled(memory, 1024, 2).rstrip('0').rstrip('.')} KB"))
    if "params" not in given:
        lines.append(("params", f"params = {row.params:,}"))
    if not given & {"macs", "flops"}:
        lines.append(("macs", f"MACs = {row.macs:,}; flop = {row.flops:,}"))
    elif row.flops == row.macs and row.macs:
        lines.append(("flops", f"flop (lecture) = MACs = {row.flops:,}"))
    if "receptive_field" in given:
        lines += [entry for entry in row.explain if entry[0] == "receptive_field"]
    else:
        lines.append(("receptive_field",
                      f"receptive field = {pair_text(row.receptive_field)} input "
                      f"pixel{'' if set(row.receptive_field) == {1} else 's'}, "
                      f"effective stride {pair_text(row.effective_stride)} (r_out = r_in + (K-1)*D*j_in, "
                      f"j_out = j_in*S)"))
    if row.roofline is not None and row.roofline.parts is not None:
        lines += roofline_lines(report, row)
    if row.train_costs:
        macs, flops, memory = row.train_costs
        lines.append(("macs", f"runs only in training: in eval mode the table and totals count its MACs, flop and "
                              f"memory as 0 (--mode train counts MACs {macs:,}, flop {flops:,}, memory {memory:,} B)"))
    return lines


def roofline_lines(report, row):
    """The roofline of one layer (``--device``): bytes moved, FLOPs, intensity, both times and the bound."""
    figure = row.roofline
    reads, writes, weights, batch, element_bytes = figure.parts
    read_text = " + ".join(f"{count:,}" for count in reads) or "0"
    times = f" * {batch}" if batch != 1 else ""
    moved = f"input{'s' if len(reads) > 1 else ''} {read_text} + output {writes:,}"
    moved = f"({moved}){times} + params and buffers {weights:,}" if times else f"{moved} + params and buffers {weights:,}"
    work = f"2 * MACs {row.macs:,} + elementwise {row.elementwise:,}"
    lines = [("bytes_moved", f"bytes moved = ({moved}) * {element_bytes} B = {figure.bytes_moved:,} B"),
             ("flops_2x", f"FLOPs = {work}{times} = {figure.flops:,}" if not times else
                          f"FLOPs = ({work}){times} = {figure.flops:,}")]
    if figure.intensity is not None:
        intensity = figure.intensity
        lines.append(("intensity", f"intensity = FLOPs / bytes = {figure.flops:,} / {figure.bytes_moved:,} = "
                                   f"{scaled(intensity.numerator, intensity.denominator, 2)} FLOP/B"))
    device = report.roofline.device
    if device is None or figure.time_s is None:
        return lines
    ridge = device.ridge
    lines += [
        ("compute_s", f"compute time = FLOPs / peak = {figure.flops:,} / {rate_text(device.peak, device.work_unit + '/s')} = "
                      f"{time_text(figure.compute_s)}"),
        ("memory_s", f"memory time = bytes / bandwidth = {figure.bytes_moved:,} B / "
                     f"{rate_text(device.bandwidth, 'B/s')} = {time_text(figure.memory_s)}"),
        ("time_s", f"roofline time = max(compute, memory) = {time_text(figure.time_s)}: {figure.bound}-bound on "
                   f"{device.name} (intensity {'below' if figure.bound == 'memory' else 'at or above'} its ridge "
                   f"point, peak / bandwidth = {scaled(ridge.numerator, ridge.denominator, 1)} FLOP/B)"),
    ]
    return lines
