"""The benchmark store: a city-wide season (see :mod:`warmcase_adapters.city`).

Run: ``python -m benchmarks.generate PATH --events 1000000 [--seed N]``, the same as
``warmcase demo --scale city --store PATH --events N``.
"""

from __future__ import annotations

import sys

from warmcase_adapters.city import generate, main

__all__ = ["generate", "main"]

if __name__ == "__main__":
    sys.exit(main())
