"""``python -m buildlog`` runs the command line."""

from buildlog.cli import main

main()
