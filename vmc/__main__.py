"""``python -m vmc``: the helper commands of :mod:`vmc.cli`."""

import sys

from vmc.cli import main

if __name__ == "__main__":
    sys.exit(main())
