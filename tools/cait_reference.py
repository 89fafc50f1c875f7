"""Reference figures for CaiT's attention modules (timm's cait.py), measured with PyTorch, one module at a time.

tests/test_attention_cait.py checks the ``attention`` rule's ``talking_heads: true`` and ``queries: class``
against the figures this script prints. It needs PyTorch and timm, which the package and its tests never
import:

    /work/venvs/torch/bin/python tools/cait_reference.py

Each module is built with qkv_bias=True (as cait_xxs24_224 builds them) in eval mode and run once on a random
input of batch 1. params: sum(p.numel() for p in module.parameters()); MACs: FlopCounterMode's total / 2, with
grad enabled and the math attention kernel (sdpa_kernel(SDPBackend.MATH)), as tools/export_modern.py counts
whole models (ClassAttn runs scaled_dot_product_attention, whose fused kernels the counter misses).
"""

import torch
from timm.models.cait import ClassAttn, TalkingHeadAttn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

# (module, tokens, width, heads): cait_xxs24_224's blocks.0.attn and blocks_token_only.0.attn, and the small
# cases the rule tests work by hand
CASES = [(TalkingHeadAttn, 196, 192, 4), (ClassAttn, 197, 192, 4), (TalkingHeadAttn, 5, 8, 2), (ClassAttn, 5, 8, 2)]


def main():
    for kind, tokens, width, heads in CASES:
        module = kind(width, num_heads=heads, qkv_bias=True).eval()
        counter = FlopCounterMode(display=False)
        with sdpa_kernel(SDPBackend.MATH), counter:
            module(torch.randn(1, tokens, width))
        params = sum(p.numel() for p in module.parameters())
        print(f"{kind.__name__}({width}, {heads} heads) on {tokens} tokens: params {params:,}, "
              f"macs {counter.get_total_flops() // 2:,}")


if __name__ == "__main__":
    main()
