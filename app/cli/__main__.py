"""``python -m app.cli`` runs the ``bie`` command line."""

from app.cli.main import main

main()
