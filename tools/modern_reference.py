"""Reference figures for the built-in models, measured with PyTorch.

tests/test_zoo_modern.py checks cnncalc's convnext_tiny, efficientnet_b3, unet, mobilenet_v1, espcn, c3d,
m5 and resnet20 specs against the figures this script prints (saved in tools/modern_reference.txt).
It needs PyTorch and torchvision, which the package and its tests never import:

    /work/refvenv/bin/python tools/modern_reference.py               # totals of every run
    /work/refvenv/bin/python tools/modern_reference.py --layers unet  # also every Conv/Linear call of a run
    PYTHONPATH=DIR_WITH_PYYAML_AND_TABULATE /work/refvenv/bin/python tools/modern_reference.py --compare resnet20
                                            # cnncalc's built-in spec against the calls, layer by layer

Each model is built with random weights in eval mode and run once on a zero input of batch 1. Counting
conventions (the same as cnncalc's, see README "Counting conventions"):

- params: every parameter element (all are trainable);
- buffers: every buffer element except BatchNorm's num_batches_tracked (so: BN running mean and var);
- MACs: only Conv*/ConvTranspose*/Linear calls, counted with forward hooks, bias adds not counted:
  conv (1-, 2- and 3-D) = output elements * (Cin/groups) * prod(kernel);
  transposed conv = input elements * (Cout/groups) * prod(kernel);
  Linear = output elements * in_features (so a Linear on a channels-last C x H x W map, as in ConvNeXt,
  costs H*W*in*out; on a flat vector in*out).
- output: the shape of the model's output without the batch axis.

torchvision's convnext_tiny, efficientnet_b3 and efficientnet_b4 come from torchvision.models (weights=None);
efficientnet_b4 checks the `params:` scaling of cnncalc's efficientnet_b3 spec (--set width=1.4 --set
depth=1.8 at 380). The other models are written below after their papers (and the common PyTorch ports,
named at each class); espcn_x4 is ESPCN with r = 4 (cnncalc: espcn --set upscale=4).
"""

import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


# --- U-Net (Ronneberger, Fischer & Brox 2015, Fig. 1) ------------------------------------------------
# Unpadded 3x3 convs + ReLU, 2x2 max pools, 2x2 up-convs (ConvTranspose2d stride 2) halving the channels,
# the encoder's map centre-cropped to the up-conv's size and concatenated before it, a 1x1 conv to 2 classes.
# No batch norm (the paper has none). Valid input sides are 16k + 124 (572, 476, 668, ...).

class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3)
        self.conv2 = nn.Conv2d(cout, cout, 3)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


def center_crop(x, like):
    h, w = like.shape[-2:]
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top:top + h, left:left + w]


class Up(nn.Module):
    """2x2 up-conv halving the channels, the skip centre-cropped to its size, concat [skip, up], two convs."""

    def __init__(self, cin, cout):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv1 = nn.Conv2d(2 * cout, cout, 3)
        self.conv2 = nn.Conv2d(cout, cout, 3)

    def forward(self, x, skip):
        x = self.upconv(x)
        x = torch.cat([center_crop(skip, x), x], dim=1)
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class UNet(nn.Module):
    def __init__(self, in_channels=1, classes=2):
        super().__init__()
        self.enc1 = DoubleConv(in_channels, 64)
        self.enc2 = DoubleConv(64, 128)
        self.enc3 = DoubleConv(128, 256)
        self.enc4 = DoubleConv(256, 512)
        self.enc5 = DoubleConv(512, 1024)
        self.up4 = Up(1024, 512)
        self.up3 = Up(512, 256)
        self.up2 = Up(256, 128)
        self.up1 = Up(128, 64)
        self.head = nn.Conv2d(64, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        x = self.enc5(F.max_pool2d(e4, 2))
        x = self.up1(self.up2(self.up3(self.up4(x, e4), e3), e2), e1)
        return self.head(x)


# --- MobileNet v1 (Howard et al. 2017, Table 1), width 1.0, 224, 1000 classes ---------------------------
# Conv-BN-ReLU layers without conv bias; 13 depthwise-separable blocks (3x3 depthwise, 1x1 pointwise);
# 7x7 average pool; FC 1024 -> 1000. Module names as timm's mobilenetv1_100 (blocks.STAGE.BLOCK).

class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv_dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv_pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn2(self.conv_pw(F.relu(self.bn1(self.conv_dw(x))))))


class MobileNetV1(nn.Module):
    # the paper's table grouped in stages, as timm's mobilenetv1_100: (channels, blocks); each stage but
    # the first starts with stride 2
    STAGES = [(64, 1), (128, 2), (256, 2), (512, 6), (1024, 2)]

    def __init__(self, classes=1000):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        cin, stages = 32, []
        for i, (cout, n) in enumerate(self.STAGES):
            blocks = []
            for j in range(n):
                blocks.append(DepthwiseSeparable(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv_stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# --- ESPCN (Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient
# Sub-Pixel Convolutional Neural Network"): (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3 with C*r^2
# outputs, tanh after the first two layers, then the periodic shuffle (PixelShuffle). 'same' padding
# (k // 2) so the output is exactly r times the input. Run on the luminance channel (C = 1), r = 3,
# a 1 x 224 x 224 input -> 1 x 672 x 672.

class ESPCN(nn.Module):
    def __init__(self, channels=1, r=3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, channels * r * r, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(r)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.pixel_shuffle(self.conv3(x))


# --- C3D (Tran et al. 2015, "Learning Spatiotemporal Features with 3D Convolutional Networks"), as in the
# common PyTorch port of the Sports-1M model (DavideA/c3d-pytorch): 3x3x3 convs with padding 1, pool1
# 1x2x2, the other pools 2x2x2, pool5 padded (0, 1, 1) so fc6 sees 512 x 1 x 4 x 4 = 8192, 487 classes.

class C3D(nn.Module):
    def __init__(self, classes=487):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, 3, padding=1)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2 = nn.Conv3d(64, 128, 3, padding=1)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv3a = nn.Conv3d(128, 256, 3, padding=1)
        self.conv3b = nn.Conv3d(256, 256, 3, padding=1)
        self.pool3 = nn.MaxPool3d(2, 2)
        self.conv4a = nn.Conv3d(256, 512, 3, padding=1)
        self.conv4b = nn.Conv3d(512, 512, 3, padding=1)
        self.pool4 = nn.MaxPool3d(2, 2)
        self.conv5a = nn.Conv3d(512, 512, 3, padding=1)
        self.conv5b = nn.Conv3d(512, 512, 3, padding=1)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.pool3(F.relu(self.conv3b(F.relu(self.conv3a(x)))))
        x = self.pool4(F.relu(self.conv4b(F.relu(self.conv4a(x)))))
        x = self.pool5(F.relu(self.conv5b(F.relu(self.conv5a(x)))))
        x = x.flatten(1)
        x = self.dropout(F.relu(self.fc6(x)))
        x = self.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)


# --- M5 (Dai et al. 2017, "Very Deep Convolutional Neural Networks for Raw Waveforms", Table 1), written
# as torchaudio's speech-command tutorial writes its M5 (Conv1d + BatchNorm1d + ReLU + MaxPool1d(4) four
# times, global average pool, Linear) but with the paper's widths: 80/4 x 128, 3 x 128, 3 x 256, 3 x 512.
# Input 1 x 8000 (one second at 8 kHz), 35 classes (Speech Commands, as in the tutorial).

class M5(nn.Module):
    def __init__(self, classes=35):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 128, 80, stride=4)
        self.bn1 = nn.BatchNorm1d(128)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(128, 128, 3)
        self.bn2 = nn.BatchNorm1d(128)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(128, 256, 3)
        self.bn3 = nn.BatchNorm1d(256)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(256, 512, 3)
        self.bn4 = nn.BatchNorm1d(512)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(512, classes)

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f"pool{i}")(F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))))
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        return self.fc1(x)


# --- ResNet-20 for CIFAR-10 (He et al. 2015, section 4.2), option A shortcuts, as in the common PyTorch
# port (akamaster/pytorch_resnet_cifar10): 3x3 conv 16, three stages of 3 basic blocks (16, 32, 64), the
# shortcut of a stage's first block subsamples (x[:, :, ::2, ::2]) and zero-pads the channels
# (planes // 4 on each side); global average pool; Linear 64 -> 10. Input 3 x 32 x 32.

class BasicBlockA(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or cin != planes else 0

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    def __init__(self, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for i, planes in enumerate((16, 32, 64), 1):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlockA(cin, planes, 2 if (j == 0 and i > 1) else 1))
                cin = planes
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.linear(x)


# --- runs ------------------------------------------------------------------------------------------------

RUNS = [  # (run name, builder, input shape without batch, cnncalc built-in and its --set params)
    ("convnext_tiny", lambda: torchvision.models.convnext_tiny(weights=None), (3, 224, 224), "convnext_tiny", {}),
    ("efficientnet_b3", lambda: torchvision.models.efficientnet_b3(weights=None), (3, 300, 300),
     "efficientnet_b3", {}),
    # the same spec scaled as B4 (width 1.4, depth 1.8) at 380
    ("efficientnet_b4", lambda: torchvision.models.efficientnet_b4(weights=None), (3, 380, 380),
     "efficientnet_b3", {"width": 1.4, "depth": 1.8}),
    ("unet", UNet, (1, 572, 572), "unet", {}),
    ("unet_476", UNet, (1, 476, 476), "unet", {}),
    ("unet_668", UNet, (1, 668, 668), "unet", {}),
    ("mobilenet_v1", MobileNetV1, (3, 224, 224), "mobilenet_v1", {}),
    ("espcn", ESPCN, (1, 224, 224), "espcn", {}),
    ("espcn_x4", lambda: ESPCN(r=4), (1, 224, 224), "espcn", {"upscale": 4}),
    ("c3d", C3D, (3, 16, 112, 112), "c3d", {}),
    ("m5", M5, (1, 8000), "m5", {}),
    ("resnet20", ResNet20, (3, 32, 32), "resnet20", {}),
]

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def measure(builder, shape):
    """Totals and the (name, type, out shape, params, MACs) of every Conv/ConvTranspose/Linear call."""
    model = builder().eval()
    calls = []

    def hook(module, inputs, output, name):
        if isinstance(module, CONV):
            macs = output.numel() * module.weight[0].numel()      # out elements * (Cin/groups) * prod(k)
        elif isinstance(module, CONV_T):
            macs = inputs[0].numel() * module.weight[0].numel()   # in elements * (Cout/groups) * prod(k)
        else:
            macs = output.numel() * module.in_features            # out elements * in_features
        params = sum(p.numel() for p in module.parameters())
        calls.append((name, type(module).__name__, tuple(output.shape[1:]), params, macs))

    for name, module in model.named_modules():
        if isinstance(module, CONV + CONV_T + (nn.Linear,)):
            module.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name))
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return {"params": params, "buffers": buffers, "macs": sum(c[4] for c in calls),
            "output": tuple(out.shape[1:]), "calls": calls}


def compare(spec, params, shape, measured):
    """cnncalc's conv/fc/linear rows against the hooked calls, in order: (out shape, params, MACs)."""
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import cnncalc

    report = cnncalc.analyze(spec, input="x".join(map(str, shape)), params=params or None)
    ours = [(row.name, tuple(row.out_shape), row.params, row.macs) for row in report.rows
            if row.type in ("conv", "dwconv", "convtranspose", "fc", "linear")]
    theirs = []
    for name, kind, out, params, macs in measured["calls"]:
        if kind == "Linear" and len(out) > 1:  # a Linear on a channels-last map: cnncalc writes C first
            out = out[-1:] + out[:-1]
        theirs.append((name, out, params, macs))
    bad = [f"    #{i}: cnncalc {a} vs torch {b}" for i, (a, b) in enumerate(zip(ours, theirs)) if a[1:] != b[1:]]
    totals = report.totals
    same_totals = (totals["params"], totals["buffers"], totals["macs"], tuple(report.rows[-1].out_shape)) == (
        measured["params"], measured["buffers"], measured["macs"], measured["output"])
    ok = len(ours) == len(theirs) and not bad and same_totals
    print(f"    cnncalc {'matches' if ok else 'DIFFERS'}: {len(ours)} layers (torch {len(theirs)}), "
          f"totals {'equal' if same_totals else 'differ'}")
    if bad:
        print("\n".join(bad[:5]))
    return ok


def main(argv):
    """Arguments: run names (default: all); --layers lists every Conv/Linear call; --compare checks cnncalc's
    built-in spec of each run layer by layer (needs cnncalc's dependencies, pyyaml and tabulate, importable)."""
    names = {a for a in argv if not a.startswith("--")} or {r[0] for r in RUNS}
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print("run,input,params,buffers,macs,output")
    ok = True
    for run, builder, shape, spec, params in RUNS:
        if run not in names:
            continue
        m = measure(builder, shape)
        fmt = "x".join
        print(f"{run},{fmt(map(str, shape))},{m['params']},{m['buffers']},{m['macs']},{fmt(map(str, m['output']))}")
        if "--layers" in argv:
            for name, kind, out, params, macs in m["calls"]:
                print(f"    {name:<40} {kind:<16} {'x'.join(map(str, out)):<16} {params:>10} {macs:>14}")
        if "--compare" in argv:
            ok = compare(spec, params, shape, m) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
