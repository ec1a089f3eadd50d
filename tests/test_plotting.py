"""Library plots use matplotlib's object API: a notebook's backend is never switched, and PNGs are written whole."""
import matplotlib
import numpy as np

from tnddm._plotting import save_png, subplots
from tnddm.learn.loop import plot_history
from tnddm.mcmc.driver import plot_scan


def test_plots_do_not_switch_the_backend_and_write_pngs(tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend a user might have chosen
    try:
        plot_scan([{"T": 0.5, "acceptance": 0.4, "tau": 3.0, "tau_stderr": 0.2, "group": "chi=4"},
                   {"T": float("nan"), "acceptance": 0.2, "tau": 6.0, "tau_stderr": 0.5, "group": "chi=4"}],
                  tmp_path / "scan.png", title="t")
        plot_history({"round": [0, 1, 2], "nll": [3.0, 2.0, 1.5], "kl": [0.5, 0.2, 0.1]}, tmp_path / "h.png")
        fig, ax = subplots()
        ax.plot(np.arange(3))
        save_png(fig, tmp_path / "f.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    for name in ("scan.png", "h.png", "f.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
