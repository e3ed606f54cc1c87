"""``python -m fairque.cli``: the same as the ``fairque`` console script."""

from fairque.cli.main import main

main()
