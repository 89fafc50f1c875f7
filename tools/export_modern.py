"""Export 2021+ vision models (transformers, hybrids, channels-last, video) to ONNX with BOTH PyTorch
exporters, and record PyTorch's own figures for each in tools/modern_onnx_reference.txt.

tools/check_onnx.py --modern compares `cnncalc report` (and the `import`ed spec) with those figures.
PyTorch, torchvision and timm are not dependencies of cnncalc or its tests; run this in a venv of its own:

    /work/venvs/torch/bin/python tools/export_modern.py /work/scratch/onnx                  # the first four
    /work/venvs/torch/bin/python tools/export_modern.py /work/scratch/onnx --all            # every model below
    /work/venvs/torch/bin/python tools/export_modern.py /work/scratch/onnx swin_t deit_tiny # these
    /work/venvs/torch/bin/python tools/export_modern.py /work/scratch/onnx --all --check /work/venvs/dev/bin/python --delete
                     # each model exported, checked by tools/check_onnx.py --modern (run by that Python), then deleted

Each model NAME (eval mode, batch 1, a zero input; every parameter drawn from N(0, 0.02) as a trained
model's are, since torch.export's optimizer drops a bias that is all zeros, as a freshly built model's
are, and shares equal initializers; googlenet and inception_v3 with aux_logits=False, as an eval-mode export
holds no auxiliary classifier) is written twice:

- OUT/NAME.dynamo.onnx: `torch.onnx.export(model, (x,), path, dynamo=True)`, PyTorch's default since 2.9
  (torch.export, opset 18, its optimizer on: Gelu as one node, BN folded into the convs before it);
- OUT/NAME.ts.onnx: the TorchScript exporter, `dynamo=False, opset_version=17, do_constant_folding=False`
  (BN kept, the Erf form of GELU, LayerNormalization as one node).

The figures (one line per model, whatever the exporters did):
- params = sum(p.numel() for p in model.parameters());
- buffers = every buffer element except BatchNorm's num_batches_tracked;
- bn_params = the scale and shift of every BatchNorm; folded_params = the params a BN-folding exporter
  leaves (each BN right after a conv, reading that conv's output, goes; the conv keeps its bias, or gains
  one of C);
- macs = torch.utils.flop_counter.FlopCounterMode's total / 2 for one forward pass, gradients enabled,
  attention through the math kernel (sdpa_kernel(SDPBackend.MATH)), as the issue asks.
"""

import argparse
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tools", "modern_onnx_reference.txt")
CHECKED = os.path.join(ROOT, "tools", "modern_onnx_check.txt")

# name: (library, builder name, input C x [D x] H x W)
MODELS = {
    "convnext_tiny": ("torchvision", "convnext_tiny", (3, 224, 224)),
    "vit_b_32": ("torchvision", "vit_b_32", (3, 224, 224)),
    "swin_t": ("torchvision", "swin_t", (3, 224, 224)),
    "r3d_18": ("torchvision.video", "r3d_18", (3, 16, 112, 112)),
    "vit_b_16": ("torchvision", "vit_b_16", (3, 224, 224)),
    "r2plus1d_18": ("torchvision.video", "r2plus1d_18", (3, 16, 112, 112)),
    "swin_v2_t": ("torchvision", "swin_v2_t", (3, 256, 256)),
    "maxvit_t": ("torchvision", "maxvit_t", (3, 224, 224)),
    "fcn_resnet50": ("torchvision.segmentation", "fcn_resnet50", (3, 224, 224)),
    "deeplabv3_mobilenet_v3_large": ("torchvision.segmentation", "deeplabv3_mobilenet_v3_large", (3, 224, 224)),
    "deit_tiny": ("timm", "deit_tiny_patch16_224", (3, 224, 224)),
    "mixer_b16": ("timm", "mixer_b16_224", (3, 224, 224)),
    "mobilevit_s": ("timm", "mobilevit_s", (3, 256, 256)),
    "levit_128": ("timm", "levit_128", (3, 224, 224)),
    "efficientformer_l1": ("timm", "efficientformer_l1", (3, 224, 224)),
    "poolformer_s12": ("timm", "poolformer_s12", (3, 224, 224)),
    "resnest14d": ("timm", "resnest14d", (3, 224, 224)),
    "skresnet18": ("timm", "skresnet18", (3, 224, 224)),
    "rexnet_100": ("timm", "rexnet_100", (3, 224, 224)),
    "nf_resnet26": ("timm", "nf_resnet26", (3, 224, 224)),
    "edgenext_small": ("timm", "edgenext_small", (3, 256, 256)),
    "coatnet_0": ("timm", "coatnet_0_rw_224", (3, 224, 224)),
    # the rest of the timm kinds, and timm's own ViT, Swin and ConvNeXt
    "fastvit_t8": ("timm", "fastvit_t8", (3, 256, 256)),
    "resmlp_12": ("timm", "resmlp_12_224", (3, 224, 224)),
    "botnet26t": ("timm", "botnet26t_256", (3, 256, 256)),
    "dpn68": ("timm", "dpn68", (3, 224, 224)),
    "dm_nfnet_f0": ("timm", "dm_nfnet_f0", (3, 192, 192)),
    "deit_small_distilled": ("timm", "deit_small_distilled_patch16_224", (3, 224, 224)),
    "timm_vit_small": ("timm", "vit_small_patch16_224", (3, 224, 224)),
    "timm_swin_tiny": ("timm", "swin_tiny_patch4_window7_224", (3, 224, 224)),
    "timm_convnext_atto": ("timm", "convnext_atto", (3, 224, 224)),
    # more of timm's 2021+ kinds, tried as they come (see tools/modern_onnx_check.txt for what each gave)
    "xcit_nano": ("timm", "xcit_nano_12_p16_224", (3, 224, 224)),
    "cait_xxs24": ("timm", "cait_xxs24_224", (3, 224, 224)),
    "pvt_v2_b0": ("timm", "pvt_v2_b0", (3, 224, 224)),
    "twins_svt_small": ("timm", "twins_svt_small", (3, 224, 224)),
    "beit_base": ("timm", "beit_base_patch16_224", (3, 224, 224)),
    "eva02_tiny": ("timm", "eva02_tiny_patch14_224", (3, 224, 224)),
    "tiny_vit_5m": ("timm", "tiny_vit_5m_224", (3, 224, 224)),
    "efficientvit_b0": ("timm", "efficientvit_b0", (3, 224, 224)),
    "efficientformerv2_s0": ("timm", "efficientformerv2_s0", (3, 224, 224)),
    "mobilevitv2_050": ("timm", "mobilevitv2_050", (3, 256, 256)),
    "convnextv2_atto": ("timm", "convnextv2_atto", (3, 224, 224)),
    "caformer_s18": ("timm", "caformer_s18", (3, 224, 224)),
    "inception_next_tiny": ("timm", "inception_next_tiny", (3, 224, 224)),
    "repvit_m1": ("timm", "repvit_m1", (3, 224, 224)),
    "ghostnetv2_100": ("timm", "ghostnetv2_100", (3, 224, 224)),
    # torchvision: the rest of the video and segmentation models, then every classification model
    "mc3_18": ("torchvision.video", "mc3_18", (3, 16, 112, 112)),
    "s3d": ("torchvision.video", "s3d", (3, 16, 224, 224)),
    "mvit_v1_b": ("torchvision.video", "mvit_v1_b", (3, 16, 224, 224)),
    "mvit_v2_s": ("torchvision.video", "mvit_v2_s", (3, 16, 224, 224)),
    "swin3d_t": ("torchvision.video", "swin3d_t", (3, 16, 224, 224)),
    "fcn_resnet101": ("torchvision.segmentation", "fcn_resnet101", (3, 224, 224)),
    "deeplabv3_resnet50": ("torchvision.segmentation", "deeplabv3_resnet50", (3, 224, 224)),
    "deeplabv3_resnet101": ("torchvision.segmentation", "deeplabv3_resnet101", (3, 224, 224)),
    "lraspp_mobilenet_v3_large": ("torchvision.segmentation", "lraspp_mobilenet_v3_large", (3, 224, 224)),
}
# every other torchvision classification model, at the size of its weights' transforms (224 unless named)
CLASSIFICATION_SIZES = {"inception_v3": 299, "efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300,
                        "efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528,
                        "efficientnet_b7": 600, "efficientnet_v2_s": 384, "efficientnet_v2_m": 480,
                        "efficientnet_v2_l": 480, "swin_v2_s": 256, "swin_v2_b": 256}
CLASSIFICATION = (
    "alexnet squeezenet1_0 squeezenet1_1 vgg11 vgg11_bn vgg13 vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn googlenet "
    "inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d resnext101_32x8d "
    "resnext101_64x4d wide_resnet50_2 wide_resnet101_2 densenet121 densenet161 densenet169 densenet201 "
    "mobilenet_v2 mobilenet_v3_small mobilenet_v3_large mnasnet0_5 mnasnet0_75 mnasnet1_0 mnasnet1_3 "
    "shufflenet_v2_x0_5 shufflenet_v2_x1_0 shufflenet_v2_x1_5 shufflenet_v2_x2_0 efficientnet_b0 efficientnet_b1 "
    "efficientnet_b2 efficientnet_b3 efficientnet_b4 efficientnet_b5 efficientnet_b6 efficientnet_b7 "
    "efficientnet_v2_s efficientnet_v2_m efficientnet_v2_l regnet_x_400mf regnet_x_800mf regnet_x_1_6gf "
    "regnet_x_3_2gf regnet_x_8gf regnet_x_16gf regnet_x_32gf regnet_y_400mf regnet_y_800mf regnet_y_1_6gf "
    "regnet_y_3_2gf regnet_y_8gf regnet_y_16gf regnet_y_32gf convnext_small convnext_base convnext_large "
    "swin_s swin_b swin_v2_s swin_v2_b vit_l_32 vit_l_16 swin3d_s swin3d_b vit_h_14 regnet_y_128gf").split()
for _name in CLASSIFICATION:
    if _name.startswith("swin3d"):
        MODELS[_name] = ("torchvision.video", _name, (3, 16, 224, 224))
    else:
        _side = CLASSIFICATION_SIZES.get(_name, 224)
        MODELS[_name] = ("torchvision", _name, (3, _side, _side))
FIRST = ("convnext_tiny", "vit_b_32", "swin_t", "r3d_18")
FIELDS = ("run", "input", "params", "buffers", "bn_params", "macs", "dynamo", "torchscript", "folded_params")


def suffix_of(kind):
    return "dynamo" if kind == "dynamo" else "ts"


def build(name):
    library, builder, _ = MODELS[name]
    if library == "timm":
        import timm

        return timm.create_model(builder, pretrained=False).eval()
    import torchvision

    module = torchvision.models
    for part in library.split(".")[1:]:
        module = getattr(module, part)
    kwargs = {"weights": None}
    if library.endswith("segmentation"):
        kwargs["weights_backbone"] = None
        kwargs["aux_loss"] = False
    if builder in ("googlenet", "inception_v3"):  # an eval-mode export holds no auxiliary classifier
        kwargs["aux_logits"] = False
    return getattr(module, builder)(**kwargs).eval()


def figures(model, x):
    """params, buffers, BN params and MACs as the module docstring says."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    bn = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             for p in m.parameters(recurse=False))
    # what each conv wrote and each BN read in the forward pass (kept alive, so no storage is reused)
    written, read = {}, {}
    hooks = [module.register_forward_hook(lambda m, args, out: written.setdefault(m, out))
             for module in model.modules() if isinstance(module, torch.nn.modules.conv._ConvNd)]
    hooks += [module.register_forward_pre_hook(lambda m, args: read.setdefault(m, args[0]))
              for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        model(x)
    for hook in hooks:
        hook.remove()
    # what a BN-folding exporter leaves: each BN right after a conv, reading that conv's output, goes; the
    # conv keeps (or gains) a bias. "Reading its output": DPN's c1x1_a.bn follows the projection conv in module
    # order, with as many channels (320), but reads the block's input
    folded, previous = params, None
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.affine:
            if isinstance(previous, torch.nn.modules.conv._ConvNd) and previous.out_channels == module.num_features \
                    and _same_storage(written.get(previous), read.get(module)):
                folded -= module.num_features * (2 if previous.bias is not None else 1)
        if not list(module.children()):
            previous = module
    written.clear()
    read.clear()
    return params, buffers, bn, counter.get_total_flops() // 2, folded


def _same_storage(output, input):
    """Whether a BN's input is the conv's output (or a view of it); True when either was not seen."""
    if output is None or input is None or not hasattr(output, "untyped_storage"):
        return True
    return output.untyped_storage().data_ptr() == input.untyped_storage().data_ptr()


def export(model, x, path, dynamo):
    import torch

    for stale in (path, path + ".data"):
        if os.path.exists(stale):
            os.remove(stale)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(model, (x,), path, dynamo=True)
            else:
                torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, do_constant_folding=False,
                                  input_names=["input"], output_names=["output"])
    except Exception as err:  # noqa: BLE001 - an exporter's failure is a figure too
        first = str(err).splitlines()[0][:80] if str(err) else ""
        return f"failed ({type(err).__name__}: {first.replace(',', ';')})"  # a field of the reference's CSV rows
    return f"ok {time.perf_counter() - start:.0f}s"


def read_reference():
    rows = {}
    if os.path.exists(REFERENCE):
        with open(REFERENCE, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#") or line.startswith("run,") or not line.strip():
                    continue
                row = dict(zip(FIELDS, line.rstrip("\n").split(",")))
                rows[row["run"]] = row
    return rows


def write_reference(rows):
    """Write ``rows`` over the file's own (another run may have added rows since this one read it)."""
    rows = {**read_reference(), **rows}
    import timm
    import torch
    import torchvision

    with open(REFERENCE, "w", encoding="utf-8") as handle:
        handle.write(f"# written by tools/export_modern.py: torch {torch.__version__}, torchvision "
                     f"{torchvision.__version__}, timm {timm.__version__}\n")
        handle.write("# params = sum(p.numel()); buffers without num_batches_tracked; bn_params = BatchNorm scale "
                     "+ shift; macs = FlopCounterMode total / 2 (grad enabled, math SDPA); dynamo / torchscript: "
                     "what each exporter did\n")
        handle.write(",".join(FIELDS) + "\n")
        for name in MODELS:
            if name in rows:
                handle.write(",".join(str(rows[name].get(f, "")) for f in FIELDS) + "\n")


def read_checked():
    """tools/modern_onnx_check.txt as {model: its lines}."""
    checked = {}
    if os.path.exists(CHECKED):
        with open(CHECKED, encoding="utf-8") as handle:
            for line in handle:
                if not line.startswith("#") and line.strip():
                    checked.setdefault(line.split(".")[0], []).append(line.rstrip("\n"))
    return checked


def check(python, folder, name):
    """Run tools/check_onnx.py --modern on NAME's two files and keep its lines (one per file) in CHECKED; whether
    both matched."""
    import subprocess

    result = subprocess.run([python, os.path.join(ROOT, "tools", "check_onnx.py"), "--modern", folder, name],
                            capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{name}.")]
    if not lines:
        lines = [f"{name}.both no check ran: {(result.stderr.strip().splitlines() or ['?'])[-1][:200]}"]
    print("\n".join(lines), flush=True)
    checked = read_checked()
    checked[name] = lines
    with open(CHECKED, "w", encoding="utf-8") as handle:
        handle.write("# written by tools/export_modern.py --check: tools/check_onnx.py --modern on each export "
                     "(.ts: TorchScript exporter, .dynamo: torch.export)\n")
        for model in [m for m in MODELS if m in checked] + [m for m in checked if m not in MODELS]:
            handle.write("\n".join(checked[model]) + "\n")
    return result.returncode == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the .onnx files (outside the repository)")
    parser.add_argument("names", nargs="*", help=f"models (default: {', '.join(FIRST)})")
    parser.add_argument("--all", action="store_true", help="every model of the list")
    parser.add_argument("--only", choices=("dynamo", "ts"), help="one exporter only")
    parser.add_argument("--figures-only", action="store_true", help="record PyTorch's figures, export nothing")
    parser.add_argument("--check", metavar="PYTHON", help="after each model, run tools/check_onnx.py --modern on its "
                        "files with this Python (one that has cnncalc and onnx) and record its lines in "
                        "tools/modern_onnx_check.txt")
    parser.add_argument("--delete", action="store_true", help="delete each model's files once checked and matched "
                        "(a model that does not match keeps its files, to be worked on)")
    parser.add_argument("--skip-checked", action="store_true", help="leave out the models already in "
                        "tools/modern_onnx_check.txt")
    args = parser.parse_intermixed_args(argv)
    import torch

    torch.set_num_threads(1)
    names = list(MODELS) if args.all else (args.names or list(FIRST))
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)} (known: {', '.join(MODELS)})")
    os.makedirs(args.folder, exist_ok=True)
    rows = read_reference()
    if args.skip_checked:
        names = [n for n in names if n not in read_checked()]
    for name in names:
        torch.manual_seed(0)
        try:
            model = build(name)
        except Exception as err:  # noqa: BLE001
            print(f"{name:<30} cannot build: {err}", flush=True)
            continue
        with torch.no_grad():  # as trained weights are: torch.export's optimizer drops an all-zero bias
            for parameter in model.parameters():
                parameter.normal_(0, 0.02)
        size = MODELS[name][2]
        x = torch.zeros(1, *size)
        params, buffers, bn, macs, folded = figures(model, x)
        row = rows.get(name, {})
        row.update({"run": name, "input": "x".join(map(str, size)), "params": params, "buffers": buffers,
                    "bn_params": bn, "macs": macs, "folded_params": folded})
        for kind, dynamo in (("dynamo", True), ("torchscript", False)):
            if args.only and args.only != suffix_of(kind) or args.figures_only:
                continue
            suffix = "dynamo" if dynamo else "ts"
            row[kind] = export(model, x, os.path.join(args.folder, f"{name}.{suffix}.onnx"), dynamo)
        row.setdefault("dynamo", "not tried")
        row.setdefault("torchscript", "not tried")
        rows[name] = row
        write_reference(rows)
        print(f"{name:<30} params {params:,} buffers {buffers:,} macs {macs:,}  dynamo: {row['dynamo']}  "
              f"torchscript: {row['torchscript']}", flush=True)
        del model
        matched = check(args.check, args.folder, name) if args.check else False
        if args.delete and matched:
            for suffix in ("dynamo", "ts"):
                for stale in (f"{name}.{suffix}.onnx", f"{name}.{suffix}.onnx.data"):
                    if os.path.exists(os.path.join(args.folder, stale)):
                        os.remove(os.path.join(args.folder, stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
