"""Lattice geometry shared by the models (LatticeModel.geometry()) and the local Monte Carlo baselines."""
from __future__ import annotations

import numpy as np

from .._checks import check_nonnegative_int


def lattice_bonds(length: int, width: int, periodic: bool) -> np.ndarray:
    """Nearest-neighbour bonds (i, j), i < j, of an L x W lattice in column-major order.

    Order: site by site (n = c*W + r), first the bond within the column (to r + 1, or the closing
    bond (c*W, n) of a cylinder at r = W - 1), then the bond to the next column (n + W).

    Args:
        length: L columns.
        width: W sites per column.
        periodic: close every column into a ring.

    Returns:
        Integer array (bonds, 2).
    """
    n = np.arange(length * width, dtype=np.int64)
    c, r = n // width, n % width
    within = np.where(r + 1 < width, n + 1, -1)
    if periodic:
        within = np.where(r + 1 < width, within, c * width)
        first = np.where(r + 1 < width, n, c * width)  # the closing bond is (c*W, n)
        second = np.where(r + 1 < width, n + 1, n)
    else:
        first, second = n, within
    has_within = (r + 1 < width) | bool(periodic)
    has_next = c + 1 < length
    pairs = np.stack([np.stack([first, second], axis=1), np.stack([n, n + width], axis=1)], axis=1)  # (N, 2, 2)
    keep = np.stack([has_within, has_next], axis=1)
    return pairs[keep].reshape(-1, 2)


class LatticeGeometry:
    """The one lattice geometry object: L columns of W sites, column-major n = c*W + r; periodic closes each column
    into a ring (W >= 3). Edges in lattice_bonds order, neighbour lists and degrees.

    Args:
        length: L columns.
        width: W sites per column.
        periodic: close every column into a ring.
    """

    def __init__(self, length: int, width: int = 1, periodic: bool = False):
        length, width = check_nonnegative_int(length, "length"), check_nonnegative_int(width, "width")
        if length < 1 or width < 1 or length * width < 2:
            raise ValueError(f"length and width must be >= 1 with at least 2 sites; got {length} x {width}")
        if periodic and width < 3:
            raise ValueError(f"a periodic column needs width >= 3; got width = {width}")
        self.length, self.width, self.periodic = length, width, bool(periodic)
        self.n_sites = length * width
        self.edges = lattice_bonds(length, width, periodic)
        deg = np.bincount(self.edges.ravel(), minlength=self.n_sites)
        nbr = np.full((self.n_sites, max(1, deg.max())), -1, dtype=np.int64)
        fill = np.zeros(self.n_sites, dtype=np.int64)
        for i, j in self.edges:
            nbr[i, fill[i]] = j
            fill[i] += 1
            nbr[j, fill[j]] = i
            fill[j] += 1
        self.neighbours, self.degree = nbr, deg.astype(np.int64)

    def neighbour_couplings(self, J_edges) -> np.ndarray:
        """(N, max degree) couplings Jn[i, k] of site i to neighbours[i, k], from one J per edge (in edges order)."""
        J_edges = np.broadcast_to(np.asarray(J_edges, dtype=float), (len(self.edges),))
        lookup = {}
        for (i, j), Jij in zip(self.edges, J_edges):
            lookup[(int(i), int(j))] = lookup[(int(j), int(i))] = float(Jij)
        Jn = np.zeros(self.neighbours.shape)
        for i in range(self.n_sites):
            for k in range(self.degree[i]):
                Jn[i, k] = lookup[(i, int(self.neighbours[i, k]))]
        return Jn
