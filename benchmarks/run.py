"""How fast is cnncalc? Start-up against its own imports, and scaling to 100k-layer specs.

Run from the repository, in the environment where cnncalc is installed:

    python benchmarks/run.py            # about a minute
    python benchmarks/run.py --quick    # fewer runs, no 100k-layer specs

Only the standard library is used (plus onnx, when installed, to write a 100 MB ONNX model). Commands are run as subprocesses, alternating between the
command and its baseline so that machine noise hits both alike; medians are reported.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository this script is in


def cnncalc_command():
    script = os.path.join(os.path.dirname(sys.executable), "cnncalc")
    if os.path.exists(script):
        return [script]
    found = shutil.which("cnncalc")
    return [found] if found else [sys.executable, "-m", "cnncalc"]


def run_once(command):
    """Wall time (s) and peak resident memory (MiB) of one run; fails loudly on a non-zero exit."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    if process.returncode not in (0,):
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{process.stderr.read().decode()}")
    process.stderr.close()
    peak_mib = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2 ** 20
    return elapsed, peak_mib


def alternate(command, baseline, runs):
    """Median times of ``command`` and ``baseline``, run in turns."""
    run_once(command)  # warm the file cache
    run_once(baseline)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(run_once(command)[0])
        theirs.append(run_once(baseline)[0])
    return statistics.median(ours), statistics.median(theirs)


def chain_spec(layers):
    """A plain chain: conv -> bn -> relu, repeated, written out layer by layer."""
    lines = ["name: chain", "input: [16, 8, 8]", "layers:"]
    kinds = ("{type: conv, filters: 16, kernel: 3, pad: 1, bias: false}", "{type: bn}", "{type: relu}")
    lines += [f"  - {kinds[i % 3]}" for i in range(layers)]
    return "\n".join(lines) + "\n"


def dense_spec(layers, block=24):
    """DenseNet-style: in each block every new conv is concatenated with all earlier features."""
    lines = ["name: dense", "input: [16, 8, 8]", "layers:", "  - {name: stem, type: conv, filters: 16, kernel: 1}"]
    count, b, features = 1, 0, ["stem"]
    while count < layers:
        b += 1
        for i in range(block):
            if count >= layers:
                break
            source = features[-1]
            lines.append(f"  - {{name: b{b}c{i}, type: conv, filters: 4, kernel: 3, pad: 1, from: {source}}}")
            features = features + [f"b{b}c{i}"]
            last = f"b{b}cat{i}"
            lines.append(f"  - {{name: {last}, type: concat, from: [{', '.join(features)}]}}")
            count += 2
        lines.append(f"  - {{name: b{b}t, type: conv, filters: 16, kernel: 1, from: {last}}}")
        features = [f"b{b}t"]
        count += 1
    return "\n".join(lines) + "\n"


def dense_block_spec(layers):
    """DenseNet-style again, written as a user would: dense blocks of 20 dense layers (5 layers each)
    and a transition, as blocks with repeats: 101 layers per stage."""
    return "\n".join([
        "name: dense-blocks",
        "input: [16, 8, 8]",
        "blocks:",
        "  dense_layer:",
        "    args: {growth: 4}",
        "    layers:",
        "      - {name: norm1, type: bn, act: relu}",
        "      - {name: conv1, type: conv, filters: 4 * growth, kernel: 1, bias: false}",
        "      - {name: norm2, type: bn, act: relu}",
        "      - {name: conv2, type: conv, filters: growth, kernel: 3, pad: 1, bias: false}",
        "      - {name: concat, type: concat, from: [input, conv2]}",
        "  stage:",
        "    layers:",
        "      - {name: block, type: dense_layer, repeat: 20}",
        "      - {name: transition, type: conv, filters: 16, kernel: 1, bias: false}",
        "layers:",
        f"  - {{name: stage, type: stage, repeat: {max(layers // 101, 1)}}}",
    ]) + "\n"


def onnx_model(path, megabytes=100):
    """A VGG-like ONNX model of about ``megabytes`` MB with its weights inside the file (onnx.helper, no torch):
    five 3x3 conv + 2x2 pool stages to 512x7x7, then one fc whose weight makes up the size."""
    import onnx
    from onnx import TensorProto, helper

    def weight(name, dims):
        count = 1
        for d in dims:
            count *= d
        return helper.make_tensor(name, TensorProto.FLOAT, dims, b"\1\0\0\0" * count, raw=True)

    nodes, weights, channels, previous, elements = [], [], 3, "x", 0
    for stage, width in enumerate((64, 128, 256, 512, 512)):
        nodes.append(helper.make_node("Conv", [previous, f"w{stage}", f"b{stage}"], [f"c{stage}"],
                                      name=f"/features/conv{stage}/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
        nodes.append(helper.make_node("Relu", [f"c{stage}"], [f"r{stage}"], name=f"/features/relu{stage}/Relu"))
        nodes.append(helper.make_node("MaxPool", [f"r{stage}"], [f"p{stage}"], name=f"/features/pool{stage}/MaxPool",
                                      kernel_shape=[2, 2], strides=[2, 2]))
        weights += [weight(f"w{stage}", [width, channels, 3, 3]), weight(f"b{stage}", [width])]
        elements += width * channels * 9 + width
        channels, previous = width, f"p{stage}"
    units = max((megabytes * 10**6 // 4 - elements) // (512 * 7 * 7 + 1), 1)
    nodes.append(helper.make_node("Flatten", [previous], ["f"], name="/Flatten"))
    nodes.append(helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="/fc/Gemm", transB=1))
    weights += [weight("fw", [units, 512 * 7 * 7]), weight("fb", [units])]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def onnx_figures(cnncalc, folder, runs):
    """report on a ~100 MB ONNX file (weights inside) against report of a built-in spec."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        print("\nONNX: skipped (pip install onnx to generate the model)")
        return
    path = os.path.join(folder, "vgg_like_100mb.onnx")
    # written by another process: a child forked from this one would inherit its peak RSS
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); import run; "
                    f"run.onnx_model({path!r})"], check=True)
    megabytes = os.path.getsize(path) / 10**6
    ours, base = alternate(cnncalc + ["report", path], cnncalc + ["report", "vgg11"], runs)
    peak = run_once(cnncalc + ["report", path])[1]
    print(f"\nreport on a {megabytes:.0f} MB ONNX model (weights inside the file): {ours * 1000:.0f} ms median, "
          f"peak RSS {peak:.0f} MiB; report vgg11 (built-in YAML spec): {base * 1000:.0f} ms"
          f" -> {'under' if ours < 1 else 'OVER'} 1 s")


def exported_figures(cnncalc, folders, runs, against=None):
    """report on every .onnx file of ``folders`` (tools/export_modern.py's exports: both exporters' files of
    ConvNeXt, ViT, Swin, video models...): the whole process, median wall time and least CPU time (user + system,
    what a busy machine changes least) of ``runs``; each must be under 0.3 s. ``against``: the root of another
    checkout, whose cnncalc is run in turns with this one (its least CPU time beside ours)."""
    files, roots = _exports(folders), _checkouts(against)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so every run compiles cnncalc from source (~70 ms more); unset "
              "it for the figures an installed copy gives")
    other = f" {'against':>8}" if against else ""
    print(f"\n{'exported model':40} {'file':>9} {'nodes':>6} {'wall':>8} {'CPU':>7}{other}  (median wall, least CPU of "
          f"{runs} runs)")
    for path in [None] + files:  # first the built-in resnet18, the yardstick of a busy machine
        name = os.path.basename(path) if path else "(built-in spec resnet18)"
        path = path or "resnet18"
        times, cpu, refused = [], [[] for _ in roots], False
        for run in range(runs + 1):  # the first run warms the file cache
            for position, root in enumerate(roots):
                start = time.perf_counter()
                process = subprocess.Popen(cnncalc + ["report", path], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, cwd=root)
                _, status, usage = os.wait4(process.pid, 0)
                if run:
                    cpu[position].append(usage.ru_utime + usage.ru_stime)
                if run and not position:
                    times.append(time.perf_counter() - start)
                    refused = status != 0
        size = os.path.getsize(path) + (os.path.getsize(path + ".data") if os.path.exists(path + ".data") else 0) \
            if os.path.exists(path) else 0
        median, least = statistics.median(times), min(cpu[0])
        verdict = " (refused: one error line)" if refused else "" if least < 0.3 else "  OVER 0.3 s"
        theirs = f" {min(cpu[1]) * 1000:6.0f}ms" if against else ""
        print(f"{name:40} {size / 10**6:7.0f}MB {_nodes(path):>6} {median * 1000:6.0f}ms {least * 1000:5.0f}ms{theirs}"
              f"{verdict}")


def _exports(folders):
    """The .onnx files of ``folders``, each folder's in name order."""
    return [os.path.join(folder, f) for folder in folders for f in sorted(os.listdir(folder)) if f.endswith(".onnx")]


def _checkouts(against):
    """The roots whose cnncalc is run: this checkout's, then ``against`` when given."""
    return [CHECKOUT] + ([against] if against else [])


def instruction_figures(cnncalc, folders, against=None):
    """The instructions `report` executes on each .onnx file of ``folders`` (valgrind's callgrind, one run each):
    what a machine shared with other jobs changes not at all, where its time moves by half from one minute to
    the next. Slow (about 50 times a run), and needs valgrind; ``against`` as for exported_figures."""
    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    files, roots = _exports(folders), _checkouts(against)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    other = f" {'against':>14}" if against else ""
    print(f"\n{'exported model':40} {'instructions':>14}{other}  (callgrind, whole process)")
    for path in ["resnet18"] + files:
        counts = []
        for root in roots:
            command = cnncalc + ["report", path]
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root, env=environment)
            run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + command,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=root,
                                 env=environment)
            found = [line.split()[-1] for line in run.stderr.splitlines() if "Collected :" in line]
            counts.append(f"{int(found[-1]):,}" if found else "?")
        name = "(built-in spec resnet18)" if path == "resnet18" else os.path.basename(path)
        print(f"{name:40} {counts[0]:>14}" + (f" {counts[1]:>14}" if against else ""))


def _nodes(path):
    """How many nodes the graph of the .onnx file at ``path`` has (read by cnncalc, weights left out), or ''."""
    if not path.endswith(".onnx"):
        return ""
    if CHECKOUT not in sys.path:
        sys.path.insert(0, CHECKOUT)  # this checkout's cnncalc, the one timed
    try:
        from cnncalc.onnx.reader import read_model

        return f"{len(read_model(path).graph.node):,}"
    except Exception:  # not readable by this checkout: the timing says so
        return "?"


def answers_file(index):
    wrong = index % 7 == 0
    return (
        "spec: alexnet\n"
        "input: [3, 227, 227]\n"
        "answers:\n"
        f"  - {{layer: conv1, output_shape: 55x55x96, params: {23296 + (1 if wrong else 0)}}}\n"
        "  - {layer: pool1, output_shape: [64, 27, 27], memory_kb: 182.25, flops: 419904}\n"
        "  - {layer: total, params: 61.1M}\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and no 100k-layer specs")
    parser.add_argument("--model", default="resnet152", help="model for the start-up figures")
    parser.add_argument("--onnx-folder", action="append", help="only time `report` on each .onnx file of this "
                                                                "folder (tools/export_modern.py's exports); may be "
                                                                "given more than once")
    parser.add_argument("--against", metavar="ROOT", help="with --onnx-folder: also time the cnncalc of the checkout "
                                                         "at ROOT, in turns (e.g. `git worktree add ROOT main`)")
    parser.add_argument("--instructions", action="store_true", help="with --onnx-folder: count the instructions "
                                                                      "of each run (valgrind) instead of timing it")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    cnncalc = cnncalc_command()
    python = sys.executable
    if args.onnx_folder and args.instructions:
        instruction_figures([python, "-m", "cnncalc"], args.onnx_folder, args.against)
        return 0
    if args.onnx_folder:  # this checkout's cnncalc (python -m cnncalc from its root), not an installed one
        exported_figures([python, "-m", "cnncalc"], args.onnx_folder, 3 if args.quick else 7, args.against)
        return 0

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()}")
    print(f"cnncalc: {' '.join(cnncalc)}; {runs} alternating runs each, medians\n")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # an installed package has its bytecode compiled; without it every run recompiles cnncalc (~70 ms)
        print("note: PYTHONDONTWRITEBYTECODE is set, so every run compiles cnncalc from source; unset it for "
              "the figures an installed copy gives\n")

    rows = []
    ours, base = alternate(cnncalc + ["report", args.model], [python, "-c", "import click, yaml, tabulate"], runs)
    rows.append((f"report {args.model} (table)", ours, "import click, yaml, tabulate", base))
    ours, base = alternate(cnncalc + ["report", args.model, "--format", "json"], [python, "-c", "pass"], runs)
    rows.append((f"report {args.model} --format json", ours, "python -c pass", base))
    print(f"{'command':40} {'median':>8}   {'baseline':32} {'median':>8} {'ratio':>6}")
    for name, ours, baseline, base in rows:
        print(f"{name:40} {ours * 1000:7.0f}ms   {baseline:32} {base * 1000:7.0f}ms {ours / base:6.2f}")

    sizes = (1_000, 10_000, 20_000) if args.quick else (1_000, 10_000, 20_000, 100_000)
    print(f"\n{'generated spec':24} {'layers':>8} {'file':>9} {'time':>8} {'peak RSS':>9} {'us/layer':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for kind, make in (("chain", chain_spec), ("densenet-style concat", dense_spec),
                           ("densenet via blocks", dense_block_spec)):
            for size in sizes:
                if make is dense_spec and size > 30_000:
                    size = 30_000  # written out, 100k of these layers pass the limit of values a document may hold
                path = os.path.join(folder, f"{kind.split()[0]}_{kind.split()[-1]}_{size}.yaml")
                with open(path, "w") as handle:
                    handle.write(make(size))
                times = [run_once(cnncalc + ["report", path, "--format", "json"]) for _ in range(1 if size > 20_000 else 3)]
                elapsed = statistics.median(t for t, _ in times)
                peak = max(m for _, m in times)
                kib = os.path.getsize(path) / 1024
                print(f"{kind:24} {size:8,} {kib:7,.1f}KB {elapsed:7.2f}s {peak:7.0f}MiB {elapsed / size * 1e6:9.1f}")

        onnx_figures(cnncalc, folder, runs)

        if has_check(cnncalc):
            answer_dir = os.path.join(folder, "answers")
            os.mkdir(answer_dir)
            paths = []
            for i in range(1000):
                paths.append(os.path.join(answer_dir, f"student{i:04d}.yaml"))
                with open(paths[-1], "w") as handle:
                    handle.write(answers_file(i))
            start = time.perf_counter()
            result = subprocess.run(cnncalc + ["check", "--format", "json"] + paths, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            print(f"\ncheck over 1,000 answer files (3 answers each): {elapsed:.2f}s "
                  f"({elapsed / 1000 * 1e3:.2f} ms/file; exit {result.returncode}: some answers are wrong on purpose)")


def has_check(cnncalc):
    return subprocess.run(cnncalc + ["check", "--help"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


if __name__ == "__main__":
    main()
