"""``python -m tunesmith``: the command line where the ``tunesmith`` script is not on the PATH (a virtual environment
that was not activated, a notebook's kernel)."""

from tunesmith.cli import main

if __name__ == "__main__":
    main()
