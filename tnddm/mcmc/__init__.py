"""Monte Carlo with diffusion-model proposals, local-move baselines and honest error bars.

driver:    MetropolisHastings (connected / disconnected DDM moves, mixtures, random T)
proposals: truncate / as_proposal (approximate proposal MPS with exact log-probabilities)
local:     numba baselines (Ising single-spin Metropolis and Wolff, Fredkin exchange moves)
stats:     autocorrelation time, standard errors, ESS, split R-hat, convergence, importance weights
importance: self-normalised importance sampling with exact proposal log-probabilities
reference: exact values of lattice-model statistics to put beside estimates
"""
from .chain import Chain, concat_walkers
from .driver import MetropolisHastings, Move, log_acceptance, log_alpha, make_moves, plot_scan, scan_T
from .importance import importance_sampling, support_check
from .proposals import as_proposal, mix_uniform, truncate
from .reference import exact_reference
from .stats import (
                    acceptance_rate,
                    autocorrelation,
                    binning_error,
                    effective_sample_size,
                    importance_estimate,
                    importance_weights,
                    integrated_time,
                    is_converged,
                    kish_ess,
                    split_rhat,
                    standard_error,
                    summarize,
)

__all__ = ["Chain", "concat_walkers", "MetropolisHastings", "Move", "log_acceptance", "log_alpha", "make_moves", "scan_T", "plot_scan", "as_proposal", "mix_uniform",
           "importance_sampling", "support_check", "exact_reference", "is_converged",
           "truncate", "acceptance_rate", "autocorrelation", "binning_error", "effective_sample_size",
           "importance_estimate", "importance_weights", "integrated_time", "kish_ess", "split_rhat",
           "standard_error", "summarize"]
