"""What `audiogan train --init-from` carries from one model config into another: a fixed-length
model's weights into an any-length model of the same widths, and a model's weights into the same
model grown by a part that starts as the identity (a level envelope)."""
from __future__ import annotations

import torch

from audiogan_core.discriminator import Discriminator
from audiogan_core.generator import Generator, sequence_projection_from_grid

# Model fields that may differ between --init-from and the run: a fixed-length model seeds an
# any-length one of the same widths (carry_into_any_length).
LENGTH_FIELDS = {"noise_input", "noise_block", "position_channels", "d_pooling", "d_pool_scale", "base_frames"}
# Fields that add a part starting as the identity: every other tensor carries over as it is.
GROWN_FIELDS = {"level_envelope"}
# Weight-free steps on the output: a model loads tensor for tensor into a run that changes them.
WEIGHT_FREE_FIELDS = {"output_median", "output_median_of", "output_median_strength", "output_median_below_peak"}


@torch.no_grad()
def carry_into_any_length(G: Generator, D: Discriminator, old, g_state: dict, d_state: dict | None,
                          carry_projection: bool = False) -> list[str]:
    """A fixed-length model's weights (config `old`) into an any-length G and D of the same widths:
    every tensor of the same name and shape is kept. A "blocks" G whose noise_block is the old
    grid's length keeps the noise projection as it is (its position projection starts at zero). A
    "sequence" G's noise projection (a 1x1 conv per base frame) starts afresh, or with
    `carry_projection` from the grid's weights (audiogan_core.generator.sequence_projection_from_grid).
    (With D's pooling changed from sum to mean its logits start smaller by the old grid's size unless
    d_pool_scale is that size; spectral norm leaves no weight to scale back.) Returns the generator
    layers that start afresh."""
    g_state = dict(g_state)
    if carry_projection and old.noise_input == "global" and G.config.noise_input == "sequence":
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
    fresh.update(name.split(".")[0] for name in G.state_dict() if name not in g_state)
    return sorted(fresh)
