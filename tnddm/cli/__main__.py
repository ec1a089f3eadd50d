"""python -m tnddm.cli: the same as the `tnddm` command."""
from . import main

main()
