"""`python -m mpr` is the `mpr` command."""

import sys

from mpr.cli import main

if __name__ == "__main__":
    sys.exit(main())
