"""Compression of psi = sqrt(pi) (Ising 8 x 16 cylinder at beta_c, bond 256) to bond chi: tnddm against quimb.

tnddm.mps.compress.compress (SVD truncation, then two two-site fidelity sweeps) against quimb's
tensor_network_1d_compress with method "dm" (density-matrix truncation) and "fit" (variational
sweeps, two iterations), on the same MPS. Each row gives the wall time, the fidelity
F = <psi_chi|psi> / (||psi_chi|| ||psi||) (computed the same way for all) and the time ratio quimb / tnddm.

    python -m benchmarks.compression [--quick]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from tnddm import BornMPS
from tnddm.lattice import BETA_C, IsingCylinder
from tnddm.mps.compress import compress, fidelity

from .common import markdown_table


def _to_quimb(psi: BornMPS):
    import quimb.tensor as qtn

    arrays = [B for B in psi.cores]
    arrays[0], arrays[-1] = arrays[0][0], arrays[-1][:, :, 0]  # (d, r) and (l, d)
    return qtn.MatrixProductState(arrays, shape="lpr")


def _from_quimb(mps) -> BornMPS:
    cores = []
    N = mps.L
    for i in range(N):
        t = mps[i]
        inds = [mps.bond(i - 1, i)] if i > 0 else []
        inds += [mps.site_ind(i)] + ([mps.bond(i, i + 1)] if i < N - 1 else [])
        data = t.transpose(*inds).data
        if i == 0:
            data = data[None]
        if i == N - 1:
            data = data[..., None]
        cores.append(np.asarray(data, dtype=float))
    return BornMPS(cores)


def run(quick: bool = False) -> list[dict]:
    import quimb.tensor as qtn

    length, width, chis = (8, 4, (4, 8)) if quick else (16, 8, (16, 32, 64))
    psi = IsingCylinder(length=length, width=width, beta=BETA_C).born_mps()
    q_psi = _to_quimb(psi)
    compress(psi, 2, sweeps=1)  # warm-up: imports and first-call compilation stay out of the timings
    for method in ("dm", "fit"):
        qtn.tensor_network_1d_compress(q_psi.copy(), max_bond=2, cutoff=0.0, method=method)
    rows = []
    for chi in chis:
        start = time.perf_counter()
        ours, _ = compress(psi, chi, sweeps=2)
        t_ours = time.perf_counter() - start
        row = {"system": f"ising {width}x{length}", "chi": chi, "tnddm s": t_ours, "tnddm F": fidelity(ours, psi)}
        for method, opts in (("dm", {}), ("fit", {"max_iterations": 2})):
            start = time.perf_counter()
            theirs = qtn.tensor_network_1d_compress(q_psi.copy(), max_bond=chi, cutoff=0.0, method=method, **opts)
            t = time.perf_counter() - start
            row[f"quimb {method} s"] = t
            row[f"quimb {method} F"] = fidelity(_from_quimb(theirs), psi)
            row[f"quimb {method} / tnddm time"] = t / t_ours
        rows.append(row)
        print(row, flush=True)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    print(markdown_table(run(ap.parse_args().quick)))
