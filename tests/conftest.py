"""Test-session setup: one BLAS thread per process (the suite runs as two xdist workers on two cores)."""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
