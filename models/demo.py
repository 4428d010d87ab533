"""Small self-made models for demos and tests (built from a seed; no files, no network)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp_demo", "conv_demo"]


def mlp_demo(seed: int = 0, batch: int = 4) -> tuple[nn.Module, tuple[torch.Tensor]]:
    """A 3-layer MLP 64 -> 128 -> 128 -> 10 (Linear/ReLU) and a [batch, 64] float32 input."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                              nn.Linear(128, 10))
    return model.eval(), (torch.randn(batch, 64, generator=gen),)


def conv_demo(seed: int = 0, batch: int = 1) -> tuple[nn.Module, tuple[torch.Tensor]]:
    """A small CNN on [batch, 3, 16, 16] float32 images: a strided conv, a grouped conv,
    a depthwise conv, then global pooling and a Linear classifier (10 classes)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),    # -> 8 x 8 x 8
            nn.Conv2d(8, 16, 3, padding=1, groups=2), nn.ReLU(),   # -> 16 x 8 x 8
            nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    return model.eval(), (torch.randn(batch, 3, 16, 16, generator=gen),)
