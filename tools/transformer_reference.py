"""Reference figures for the transformer built-ins (ViT, Swin, Swin V2), measured with PyTorch.

tests/test_zoo_transformers.py checks cnncalc's vit_* and swin_* specs against the figures this script
prints (saved in tools/transformer_reference.txt). It needs PyTorch and torchvision, which the package and
its tests never import:

    /work/venvs/torch/bin/python tools/transformer_reference.py > tools/transformer_reference.txt
    /work/venvs/torch/bin/python tools/transformer_reference.py --modules vit_b_16   # also per-module MACs

Each model is torchvision.models.NAME(weights=None) in eval mode, run once on a zero input of batch 1 at
its default size (ViT 224, Swin 224, Swin V2 256; also ViT-H/14 at 518, and the Video Swin swin3d_t
(torchvision.models.video) on clips of 16 x 224 x 224, 16 x 112 x 112 and 8 x 224 x 224, swin3d_s and swin3d_b
on 16 x 224 x 224, see MODELS). Counting conventions:

- params: sum(p.numel() for p in model.parameters()) (all trainable);
- buffers: sum(b.numel() for b in model.buffers()) (Swin's relative_position_index, Swin V2's
  relative_coords_table too: they are buffers, as cnncalc counts them), without BatchNorm's
  num_batches_tracked (MaxViT), as tools/modern_reference.py;
- MACs: torch.utils.flop_counter.FlopCounterMode's total / 2, counted WITH GRAD ENABLED and the math
  attention kernel (sdpa_kernel(SDPBackend.MATH)): under no_grad, nn.MultiheadAttention takes a fused
  fast path the counter misses (vit_b_32 reads 2.95 G instead of 4.41 G). FlopCounterMode counts mm, bmm,
  addmm, conv and the attention products: every multiply-accumulate of the formula, bias adds not.
- output: the shape of the output without the batch axis.

--modules NAME also prints FlopCounterMode's per-module totals (/ 2) for the first encoder layer / first
blocks, the figures the per-layer tests use.
"""

import sys

import torch
import torchvision
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

# (run, torchvision builder, input side, keyword arguments). vit_h_14(weights=None) is built for 224 (its
# position embedding has 16*16 + 1 tokens); torchvision's only ViT-H/14 weights (IMAGENET1K_SWAG_E2E_V1,
# num_params 633,470,440) are for 518, which the run vit_h_14_518 builds (image_size=518: 37*37 + 1 tokens).
MODELS = [("vit_b_16", "vit_b_16", 224, {}), ("vit_b_32", "vit_b_32", 224, {}), ("vit_l_16", "vit_l_16", 224, {}),
          ("vit_l_32", "vit_l_32", 224, {}), ("vit_h_14", "vit_h_14", 224, {}),
          ("vit_h_14_518", "vit_h_14", 518, {"image_size": 518}),
          ("swin_t", "swin_t", 224, {}), ("swin_s", "swin_s", 224, {}), ("swin_b", "swin_b", 224, {}),
          ("swin_v2_t", "swin_v2_t", 256, {}), ("swin_v2_s", "swin_v2_s", 256, {}),
          ("swin_v2_b", "swin_v2_b", 256, {}), ("maxvit_t", "maxvit_t", 224, {}),
          # the Video Swin on clips of T x H x W: at 16 x 224 x 224 every window fits its map; at 16 x 112 x 112 the
          # last stage's map is 8 x 4 x 4 and at 8 x 224 x 224 every stage's is 4 frames long, where torchvision
          # shrinks the 8 x 7 x 7 window to the map (and keeps its table and index)
          ("swin3d_t", "video.swin3d_t", (16, 224, 224), {}), ("swin3d_t_112", "video.swin3d_t", (16, 112, 112), {}),
          ("swin3d_t_8f", "video.swin3d_t", (8, 224, 224), {}), ("swin3d_s", "video.swin3d_s", (16, 224, 224), {}),
          ("swin3d_b", "video.swin3d_b", (16, 224, 224), {})]
RUNS = {run: (builder, size, kwargs) for run, builder, size, kwargs in MODELS}


def build(run):
    builder, _, kwargs = RUNS[run]
    torch.manual_seed(0)
    module = torchvision.models
    for part in builder.split(".")[:-1]:  # video.swin3d_t: torchvision.models.video
        module = getattr(module, part)
    return getattr(module, builder.split(".")[-1])(weights=None, **kwargs).eval()


def measure(name, size, modules=False):
    model = build(name)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    dims = size if isinstance(size, tuple) else (size, size)  # a clip's T x H x W, or an image's side
    x = torch.zeros(1, 3, *dims)
    counter = FlopCounterMode(display=False, depth=None)
    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), counter:
        out = model(x)
    macs = counter.get_total_flops() // 2
    row = f"{name},3x{'x'.join(map(str, dims))},{params},{buffers},{macs},{'x'.join(map(str, out.shape[1:]))}"
    per_module = []
    if modules:
        for module, counts in counter.get_flop_counts().items():
            per_module.append((module, sum(counts.values()) // 2))
    return row, per_module


def module_params(name):
    model = build(name)
    return [(n, sum(p.numel() for p in m.parameters()),
             sum(b.numel() for k, b in m.named_buffers() if not k.endswith("num_batches_tracked")))
            for n, m in model.named_modules()]


def main(argv):
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    if argv[:1] == ["--modules"]:
        name = argv[1]
        size = RUNS[name][1]
        row, per_module = measure(name, size, modules=True)
        print("run,input,params,buffers,macs,output")
        print(row)
        print("module,macs")
        for module, macs in per_module:
            print(f"{module},{macs}")
        print("module,params,buffers")
        for module, params, buffers in module_params(name):
            print(f"{module or '(model)'},{params},{buffers}")
        return
    print("run,input,params,buffers,macs,output")
    for name, _, size, _ in MODELS:
        if argv and name not in argv:
            continue
        row, _ = measure(name, size)
        print(row, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
