"""What `audiogan train --init-from` carries from one model config into another: a fixed-length
model's weights into an any-length model of the same widths."""
from __future__ import annotations

import torch

from audiogan_core.discriminator import Discriminator
from audiogan_core.generator import Generator, sequence_projection_from_grid

# Model fields that may differ between --init-from and the run: a fixed-length model seeds an
# any-length one of the same widths (carry_into_any_length).
LENGTH_FIELDS = {"noise_input", "position_channels", "d_pooling", "base_frames"}


@torch.no_grad()
def carry_into_any_length(G: Generator, D: Discriminator, old, g_state: dict, d_state: dict | None,
                          carry_projection: bool = False) -> list[str]:
    """A fixed-length model's weights (config `old`) into an any-length G and D of the same widths:
    every tensor of the same name and shape is kept; the noise projection (a linear layer onto the
    fixed grid there, a 1x1 conv per base frame here) starts afresh, or with `carry_projection`
    from the grid's weights (audiogan_core.generator.sequence_projection_from_grid). (With D's
    pooling changed from sum to mean its logits start smaller by the old grid's size; spectral norm
    leaves no weight to scale back, and D re-learns the scale in a few hundred steps.) Returns the
    generator layers that start afresh."""
    g_state = dict(g_state)
    if carry_projection and old.noise_input == "global":
        part = sequence_projection_from_grid(old, G.config, g_state.pop("lin_code.weight_orig"),
                                             g_state.pop("lin_code.bias"))
        g_state.pop("lin_code.weight_u", None)
        g_state.update({f"lin_code.{k}": v for k, v in part.items()})
    fresh = set()
    for model, state in ((G, g_state), (D, d_state or {})):
        own = model.state_dict()
        for name, tensor in state.items():
            if name in own and own[name].shape == tensor.shape:
                own[name].copy_(tensor)
            elif model is G:
                fresh.add(name.split(".")[0])
    return sorted(fresh)
