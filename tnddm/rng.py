"""Seeds: every sampling function accepts an int, a SeedSequence or a Generator."""
from __future__ import annotations

import numpy as np


def as_generator(seed=None) -> np.random.Generator:
    """Return a numpy Generator: the same seed always gives the same stream."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int, a numpy SeedSequence or Generator, or None; got {type(seed).__name__}")


def spawn_seeds(seed, n: int) -> list[np.random.SeedSequence]:
    """Independent child seeds for parallel tasks (SeedSequence.spawn)."""
    if isinstance(seed, np.random.Generator):
        return seed.bit_generator.seed_seq.spawn(n)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(n)


def generator_from_state(state: dict) -> np.random.Generator:
    """A Generator restored from bit_generator.state (as saved in checkpoints): same stream onward."""
    try:
        gen = np.random.Generator(getattr(np.random, state["bit_generator"])())
    except (KeyError, AttributeError, TypeError):
        raise ValueError(f"not a numpy bit generator state: {str(state)[:80]}") from None
    gen.bit_generator.state = state
    return gen
