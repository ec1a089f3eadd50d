"""Test-session setup and shared fixtures.

- One BLAS thread per process (the suite runs as two xdist workers on two cores): set before numpy
  or tnddm is imported.
- MODEL_FACTORIES: one registry of small, enumerable probability MPS, one per storage and view
  (dense ProbMPS, sparse automaton SparseMPS, BornMPS, the sparse EmittedMPS of a noised automaton,
  the generic Emitted and Tilted views and a view of a view, MarkovTableMPS tables; d = 2 and 3, and
  emissions to d_out = 3). The `mps_model` fixture runs a test on every entry; tests/test_mps_contract.py
  holds the contract every storage must pass, and the storage-generic engine tests (tests/test_mps.py,
  tests/test_sampling.py, tests/test_diffusion.py) run on the same registry. A new storage is added
  here once and is then checked by every contract and engine test.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tnddm.mps import MarkovTableMPS  # noqa: E402
from tnddm.mps.base import Tilted  # noqa: E402

from .helpers import random_automaton, random_born, random_dense  # noqa: E402


def _emission(d_out: int, d: int, seed: int) -> np.ndarray:
    """A non-negative, column-stochastic channel K (d_out, d) with every entry > 0."""
    K = np.random.default_rng(seed).random((d_out, d)) + 0.2
    return K / K.sum(axis=0, keepdims=True)


def _tilt_weights(n_sites: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_sites, d)) + 0.3


#: name -> factory of a small model (d**N <= 243 configurations, so every law is enumerable)
MODEL_FACTORIES = {
    "dense": lambda: random_dense(6, 3, 2, seed=11),
    "dense_d3": lambda: random_dense(4, 2, 3, seed=12),
    "sparse": lambda: random_automaton(6, 4, 2, seed=13),
    "sparse_d3": lambda: random_automaton(5, 3, 3, seed=14),
    "born": lambda: random_born(6, 3, 2, seed=15),
    "emitted_sparse": lambda: random_automaton(6, 4, 2, seed=16).emit(_emission(2, 2, 1)),  # EmittedMPS
    "emitted_view": lambda: random_born(5, 2, 2, seed=17).emit(_emission(3, 2, 2)),  # Emitted view, d_out = 3
    "tilted_view": lambda: Tilted(random_dense(6, 3, 2, seed=18), _tilt_weights(6, 2, 3)),
    "born_d3": lambda: random_born(5, 2, 3, seed=19),
    "emitted_sparse_d3": lambda: random_automaton(5, 4, 2, seed=20).emit(_emission(3, 2, 4)),  # EmittedMPS, d_out = 3
    "tilted_emitted_view": lambda: Tilted(random_born(5, 3, 2, seed=21).emit(_emission(2, 2, 5)), _tilt_weights(5, 2, 6)),
    "markov_table": lambda: MarkovTableMPS.from_pair_couplings(
        6, 2, dist=np.tile([1, 2], (6, 1)) * (np.arange(6)[:, None] >= [1, 2]),
        coup=np.tile([0.4, -0.3], (6, 1)), field=0.2, dtype=np.float64),
}


@pytest.fixture(params=sorted(MODEL_FACTORIES))
def mps_model(request):
    """Every model of MODEL_FACTORIES in turn (a fresh instance per test)."""
    return MODEL_FACTORIES[request.param]()


#: the slowest tests (seconds: one run of the whole suite, `--durations`, two workers on a loaded machine), marked
#: `slow` so that `python -m pytest -q -n 2 -m "not slow"` is a quick check (CI runs everything); a parametrised
#: test is listed once, by its function
SLOW = {
    "tests/test_boundary_proposal.py::test_16x16_estimate_agrees_with_local_monte_carlo",  # 12 s
    "tests/test_boundary_proposal.py::test_chain_started_in_pi_stays_in_pi_with_a_truncated_proposal",  # 11 s
    "tests/test_boundary_proposal.py::test_quimb_compression_gives_a_valid_proposal_exact_at_full_bond",  # 5 s
    "tests/test_diffusion.py::test_reverse_rates_integrate_to_the_bayes_channel",  # 5 s
    "tests/test_distributed.py::test_cli_sample_on_a_scheduler_address_and_on_a_local_cluster",  # 13 s
    "tests/test_distributed.py::test_denoise_generate_and_walkers_do_not_depend_on_workers",  # 39 s
    "tests/test_distributed.py::test_two_workers_give_the_samples_of_one_worker_and_pass_chi_square",  # 22 s
    "tests/test_distributed.py::test_wrong_model_fails_the_chi_square_test",  # 16 s (its Dask cluster)
    "tests/test_docs.py::test_docs_build_strict",  # 34 s
    "tests/test_docs.py::test_formulas_check_fails_without_katex",  # 22 s (the site build it sets up)
    "tests/test_docs.py::test_formulas_render_in_a_browser",  # 71 s
    "tests/test_docs.py::test_strict_build_fails_on_a_broken_reference",  # 30 s
    "tests/test_docs_blocks.py::test_page_blocks_run_and_print_what_is_shown",  # 40 s
    "tests/test_exact_speed.py::test_blocked_kernel_on_ising_64x12_chisquare_energy_and_perturbed_table",  # 37 s
    "tests/test_exact_speed.py::test_float32_tables_log_probabilities_within_1e5_of_float64",  # 11 s
    "tests/test_examples.py::test_example_quick_mode",  # 46 s
    "tests/test_extremes.py::test_extreme_models_are_finite",  # 19 s
    "tests/test_flow_bridge.py::test_solver_with_the_bridge_matches_the_exact_law_of_its_kernel_mask",  # 7 s
    "tests/test_gaussian_example.py::test_gaussian_samplers_example_quick",  # 26 s
    "tests/test_gaussian_samplers.py::test_accelerated_error_slopes_against_steps",  # 39 s
    "tests/test_gaussian_samplers.py::test_accelerated_samplers_beat_their_baselines_in_l2_at_equal_steps",  # 23 s
    "tests/test_gaussian_samplers.py::test_error_slopes_against_steps",  # 9 s
    "tests/test_gaussian_samplers.py::test_gaussian_path_kl_matches_quadrature_for_one_spin",  # 29 s
    "tests/test_gaussian_samplers.py::test_rademacher_matches_gaussian_noise_and_misscaled_variance_does_not",  # 47 s
    "tests/test_labs.py::test_accel_ode_is_second_order_in_the_exact_law_of_one_spin_and_ddim_is_first",  # 11 s
    "tests/test_labs.py::test_accelerated_lab_reduced_mode",  # 18 s
    "tests/test_labs.py::test_entropy_lab_reduced_mode_padding",  # 8 s
    "tests/test_labs.py::test_rademacher_lab_reduced_mode",  # 5 s
    "tests/test_labs.py::test_random_walk_lab_reduced_mode",  # 15 s
    "tests/test_lattice.py::test_numerical_range_large_systems",  # 22 s
    "tests/test_lattice.py::test_width_16_cylinder_builds_and_gives_log_z",  # 32 s
    "tests/test_learn.py::test_adam_training_improves_and_stays_a_distribution",  # 12 s
    "tests/test_learn.py::test_cli_train_data_and_loop_with_resume",  # 6 s
    "tests/test_learn.py::test_learning_phases_quick_mode_learns_at_every_phase_point",  # 25 s
    "tests/test_learn.py::test_mc_loop_learns_ising_4x3_cylinder_at_beta_c",  # 11 s
    "tests/test_learn.py::test_mc_loop_with_sweeps_learns_fredkin_above_one_half",  # 22 s
    "tests/test_learn.py::test_sweep_training_recovers_a_bond4_mps",  # 14 s
    "tests/test_learn_born.py::test_born_sweeps_never_increase_the_nll_and_recover_a_bond4_born_mps",  # 8 s
    "tests/test_mcmc_cli.py::test_example_quick_mode_writes_table_and_plots",  # 50 s
    "tests/test_mcmc_cli.py::test_mcmc_command_with_a_born_truncated_proposal_estimates_the_exact_energy",  # 9 s
    "tests/test_mcmc_cli.py::test_mcmc_command_writes_chains_summary_and_plot",  # 6 s
    "tests/test_mcmc_cli.py::test_shipped_cards_converge_at_their_defaults_with_exact_values_beside",  # 36 s
    "tests/test_mcmc_driver.py::test_connected_kernel_leaves_target_invariant",  # 12 s
    "tests/test_mcmc_driver.py::test_zero_weight_candidates_are_always_rejected",  # 9 s
    "tests/test_mcmc_trust.py::test_auto_burn_in_discards_a_far_start_and_converges",  # 5 s
    "tests/test_mcmc_trust.py::test_cli_reports_converged_runs_with_exact_values_and_z",  # 10 s
    "tests/test_mcmc_trust.py::test_error_bars_are_honest_over_20_seeds",  # 17 s
    "tests/test_mps.py::test_log_z_at_ten_thousand_sites_is_finite_and_scales_exactly",  # 6 s
    "tests/test_reliability.py::test_zip_bomb_is_refused_fast_and_small",  # 8 s
    "tests/test_validate.py::test_euler_path_kl_slope_against_steps_is_minus_one",  # 67-77 s (not in the run above)
    "tests/test_validate.py::test_exact_kernel_and_uniformization_pass_chisquare_and_few_step_euler_fails",  # 13 s
    "tests/test_validate.py::test_first_hitting_is_exact_for_masked_diffusion",  # 15 s
    "tests/test_validate.py::test_monte_carlo_path_kl_agrees_with_exact_path_kl",  # 18 s
    "tests/test_validate.py::test_rao_blackwellised_path_kl_is_unbiased_with_a_smaller_error_and_shares_paths",  # 7 s
    "tests/test_validate.py::test_theta_trapezoidal_is_second_order_in_the_output_law_where_euler_is_first_order",  # 26 s
    "tests/test_validate_external.py::test_outside_samples_ising_16x8_statistics_only",  # 8 s
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("[")[0] in SLOW:
            item.add_marker(pytest.mark.slow)
