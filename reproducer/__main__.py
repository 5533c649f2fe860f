"""`python -m reproducer`: the command line lives in `reproducer.cli`."""

import sys

from reproducer.cli import main

if __name__ == "__main__":
    sys.exit(main())
