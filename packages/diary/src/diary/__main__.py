"""``python -m diary`` runs the command line."""

from diary.cli import main

main()
