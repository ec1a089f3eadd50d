"""examples/gaussian_samplers.py --quick writes its summary, table and plots with finite, sane numbers."""
import importlib.util
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _run_quick(out):
    spec = importlib.util.spec_from_file_location("gaussian_samplers_example", ROOT / "examples" / "gaussian_samplers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([str(out), "--quick"])
    return module


def test_gaussian_samplers_example_quick(tmp_path):
    out = tmp_path / "out"
    module = _run_quick(out)
    for name in ("summary.json", "table.md", "error_vs_steps.png", "steps_vs_N.png", "steps_vs_entropy.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    table = (out / "table.md").read_text()
    assert "accel_ode" in table and "accel_sde" in table and summary["command"] in table

    a = summary["error_vs_steps"]
    assert 0 < a["tv_floor_exact_samples"] < 1
    by_name = {r["sampler"]: r for r in a["samplers"]}
    assert set(by_name) == {"ddpm", "ode", "accel_sde", "accel_ode", "euler_maruyama", "rademacher", "rademacher x1.5"}
    for r in a["samplers"]:
        for p in r["points"]:
            assert 0 <= p["tv"] <= 1 and np.isfinite(p["rel_l2"]) and np.isfinite(p["rel_l2_se"]) and p["rel_l2_se"] > 0
            assert p["rel_l2"] > -0.5  # an unbiased estimate of a norm: only noise makes it negative
        for key in ("slope_rel_l2", "slope_tv"):
            assert r[key] is None or (np.isfinite(r[key]) and -6 < r[key] < 1), (r["sampler"], key, r[key])
    # gross, noise-proof facts at n = 4000: Euler-Maruyama converges; the mis-scaled Rademacher noise is far worse
    em = by_name["euler_maruyama"]["points"]
    assert em[-1]["tv"] < em[0]["tv"] - 0.3
    assert by_name["rademacher x1.5"]["points"][-1]["rel_l2"] > by_name["rademacher"]["points"][-1]["rel_l2"] + 0.2

    k_max = summary["k_max"]
    for r in summary["steps_needed"]:
        assert 0 < r["entropy"] <= r["max_entropy"] + 1e-9
        assert np.isclose(r["max_entropy"], r["n_sites"] * np.log(2))
        assert r["n_samples"] >= 2
        for s, k in r["steps_needed"].items():
            assert s in module.SAMPLERS_B
            assert k is None or 0.5 <= k <= k_max, (s, k)
            assert isinstance(r["upper_bound"][s], bool) and not (k is None and r["upper_bound"][s])
    chain8 = sorted((r["beta"], r["entropy"]) for r in summary["steps_needed"]
                    if r["model"]["kind"] == "ising_chain" and r["n_sites"] == 8)
    assert [h for _, h in chain8] == sorted((h for _, h in chain8), reverse=True)  # entropy falls as beta grows
