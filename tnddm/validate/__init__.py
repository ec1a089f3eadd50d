"""Ground truth for approximate discrete-diffusion samplers.

oracle:   ScoreOracle, ExactOracle (exact scores of a Diffusion), CallableOracle (any score function)
grids:    time_grid (uniform, geometric, cosine; early stopping at delta)
samplers: sample(name, oracle, n, times, ...) for euler, tau_leaping, tau_leaping_ordinal,
          exponential_euler, tweedie, masked, theta_trapezoidal, uniformization, first_hitting, exact_kernel
metrics:  output_law, path_kl_exact, kl_split, path_kl_mc, path_kl_exact_paths, histogram_tv
          (every sampler argument also takes a user kernel(X, t, s) -> (n, N, d_out) of product form)
posterior: PosteriorOracle (batched exact p(x_0^i | x_t) and reverse-kernel marginals, any t <= inf), kappa
external: score_samples / SampleReport (samples from any sampler against the exact model)
"""
from .external import SampleReport, score_samples
from .grids import time_grid
from .metrics import ExactProcess, histogram_tv, kl, kl_split, output_law, path_kl_exact, path_kl_exact_paths, path_kl_mc, tv
from .oracle import CallableOracle, ExactOracle, ScoreOracle
from .posterior import PosteriorOracle, kappa, time_of_kappa
from .samplers import PRODUCT_SAMPLERS, SAMPLERS, SamplerResult, kernel, sample

__all__ = ["time_grid", "ExactProcess", "histogram_tv", "kl", "kl_split", "output_law", "path_kl_exact", "path_kl_mc",
           "path_kl_exact_paths",
           "tv", "CallableOracle", "ExactOracle", "ScoreOracle", "PRODUCT_SAMPLERS", "SAMPLERS", "SamplerResult",
           "kernel", "sample", "PosteriorOracle", "kappa", "time_of_kappa", "SampleReport", "score_samples"]
