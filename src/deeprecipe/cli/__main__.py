"""``python -m deeprecipe.cli``."""

from deeprecipe.cli import main

if __name__ == "__main__":
    main()
