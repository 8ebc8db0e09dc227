"""`python -m dqhw ...`: the same command line as the `dqhw` script."""

import sys

from dqhw.cli import main

if __name__ == "__main__":
    sys.exit(main())
