"""``python -m tunesmith.cli``."""

from tunesmith.cli import main

main()
