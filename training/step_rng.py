"""Everything random in a training step comes from a generator seeded by (seed, step, rank,
purpose), so a step's noise, crops and augmentations never depend on what ran before and a
resumed run draws exactly what an uninterrupted one would."""
from __future__ import annotations

import hashlib

import torch

# step_generator purposes, one per random stream of a step; numbers below 64 are the ones runs
# have always used (see step_seed), the others sit in bands of their own.
PURPOSE_G = 7  # the generator update's noise; D update k uses d_noise_purpose(k)
PURPOSE_CROP = 40  # the step's crop length (rank 0's draw, the same on every rank)
PURPOSE_AUGMENT = 50  # D update k's augmentation uses augment_purpose(k), G's augment_purpose(d_steps_per_g)
PURPOSE_PREVIEW = 99  # the fixed preview noise (step 0, rank 0)
PURPOSE_LOOP = 3000  # the loop anchor's noise (TrainConfig.loop_anchor_weight)
_PACKED_PURPOSES = 64  # step_seed: (rank 0, purpose < 64) keeps its packed seed
_HASHED = 2**62  # step_seed: hashed seeds live in [2**62, 2**63), the packed ones below


def d_noise_purpose(k: int) -> int:
    """Noise purpose of the k-th discriminator update of a step: 0..6, then 1000 + k (7 is G's)."""
    return k if k < PURPOSE_G else 1000 + k


def augment_purpose(k: int) -> int:
    """Augmentation purpose of D update k (k = d_steps_per_g: G's update): 50..63, then 2000 + k."""
    return PURPOSE_AUGMENT + k if PURPOSE_AUGMENT + k < _PACKED_PURPOSES else 2000 + k


def step_seed(seed: int, step: int, rank: int, purpose: int) -> int:
    """The seed of one (step, rank, purpose) stream; distinct streams get distinct seeds.

    Rank 0 with purposes below 64 keeps the packed seed single-process runs have always used,
    seed * 1_000_003 + step * 64 + purpose, so such a run resumed with this code draws the same
    noise, crops and augmentations. The packing, seed * 1_000_003 + step * 64 + rank * 8 + purpose,
    repeats itself for other ranks (rank 8 of step s was rank 0 of step s + 1; rank 5's purpose 0
    was rank 0's purpose 40) and purposes past 63, so everything else gets a 62-bit hash of the
    four numbers with bit 62 set: a range the packed seeds (below 2**62 for any seed < 2**40)
    never reach."""
    packed = seed * 1_000_003 + step * 64 + purpose
    if rank == 0 and 0 <= purpose < _PACKED_PURPOSES and 0 <= packed < _HASHED:
        return packed
    digest = hashlib.blake2b(f"{seed},{step},{rank},{purpose}".encode(), digest_size=8).digest()
    return _HASHED | (int.from_bytes(digest, "big") & (_HASHED - 1))


def step_generator(seed: int, step: int, rank: int, purpose: int) -> torch.Generator:
    """A CPU RNG for one (step, rank, purpose): noise never depends on what ran before."""
    return torch.Generator().manual_seed(step_seed(seed, step, rank, purpose))
