"""python -m tnddm: the same as the `tnddm` command."""
from .cli import main

main()
