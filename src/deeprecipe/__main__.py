"""``python -m deeprecipe``: the ``deeprecipe`` command."""

from deeprecipe.cli import main

if __name__ == "__main__":
    main()
