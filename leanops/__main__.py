"""``python -m leanops`` runs the command line."""

from .cli import main

main()
