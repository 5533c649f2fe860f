"""`python -m reproducer.metastable`: see `reproducer.metastable.command`."""

import contextlib
import sys

from reproducer.metastable.command import main

if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
