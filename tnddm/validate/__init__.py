"""Ground truth for approximate discrete-diffusion samplers.

oracle:   ScoreOracle, ExactOracle (exact scores of a Diffusion), CallableOracle (any score function)
grids:    time_grid (uniform, geometric, cosine; early stopping at delta)
samplers: sample(name, oracle, n, times, ...) for euler, tau_leaping, tau_leaping_ordinal,
          exponential_euler, tweedie, masked, theta_trapezoidal, uniformization, first_hitting, exact_kernel
metrics:  output_law, path_kl_exact, kl_split, path_kl_mc, path_kl_exact_paths, histogram_tv
"""
from .grids import time_grid
from .metrics import (ExactProcess, histogram_tv, kl, kl_split, output_law, path_kl_exact, path_kl_exact_paths, path_kl_mc,
                      tv)
from .oracle import CallableOracle, ExactOracle, ScoreOracle
from .samplers import PRODUCT_SAMPLERS, SAMPLERS, SamplerResult, kernel, sample

__all__ = ["time_grid", "ExactProcess", "histogram_tv", "kl", "kl_split", "output_law", "path_kl_exact", "path_kl_mc",
           "path_kl_exact_paths",
           "tv", "CallableOracle", "ExactOracle", "ScoreOracle", "PRODUCT_SAMPLERS", "SAMPLERS", "SamplerResult",
           "kernel", "sample"]
