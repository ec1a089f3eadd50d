"""Counter-based uniforms for compiled samplers: one SplitMix64 stream per sample.

Sample s with 64-bit seed k_s reads, at its i-th draw (i = 0, 1, ...), the SplitMix64 output
z_i = mix(k_s + (i + 1) gamma), gamma = 0x9E3779B97F4A7C15 (Steele, Lea and Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014). A kernel then needs no (n, N) array of uniforms:
each sample's draws depend on its seed only, whatever the block or thread that computes them.
Seeds come from the caller's numpy Generator (`seeds`), so results depend only on that Generator.
"""
from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # gamma: the stream's increment
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
ONE_BITS = np.uint64(0x3FF0000000000000)  # the bits of 1.0: (z >> 12) | ONE_BITS is a float64 in [1, 2)
U53 = 2.0**-53


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 output function of a 64-bit counter z (uint64)."""
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform53(seed, i):
    """The i-th uniform of the stream `seed`: k 2^-53 with k the top 53 bits of mix(seed + (i + 1) gamma), in [0, 1)."""
    z = mix64(seed + np.uint64(i + 1) * GOLDEN)
    return np.float64(np.int64(z >> np.uint64(11))) * U53


def seeds(rng, n: int) -> np.ndarray:
    """n stream seeds (uint64) from a numpy Generator.

    Args:
        rng: numpy Generator.
        n: number of streams.
    """
    return rng.integers(0, 2**63, size=int(n), dtype=np.uint64)
