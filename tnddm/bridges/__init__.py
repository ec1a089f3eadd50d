"""Bridges from tnddm's exact engine to outside solver libraries (optional dependencies).

flow_matching: Meta's flow_matching discrete solvers driven by the exact posterior
               (pip install -e '.[flow]'; import tnddm.bridges.flow_matching).
"""
