"""Learning probability MPS: NLL and its exact gradient, Adam and two-site sweep training, the MC training loop.

nll:   nll, nll_and_grad, log_weights, log_z (exact gradients by environments)
train: Trainer (adam on log-cores / two-site EM sweeps with NMF splits), fit
born:  BornTrainer (two-site sweeps of a Born MPS, monotone ascent per bond, SVD truncation)
loop:  TrainingLoop (Metropolis-Hastings with model proposals + NLL steps on the walkers), plot_history
"""
from .born import BornTrainer
from .loop import TrainingLoop, default_initial, kl_from_exact_samples, model_at, plot_history
from .nll import log_norm, log_weights, log_z, nll, nll_and_grad  # noqa: F401  (log_norm: deprecated name of log_z)
from .state import check_state, same_spec
from .train import Trainer, fit

__all__ = ["BornTrainer", "nll", "nll_and_grad", "log_weights", "log_z", "Trainer", "fit", "TrainingLoop", "default_initial", "kl_from_exact_samples",
           "model_at", "plot_history", "check_state", "same_spec"]
