"""Hypothesis settings profiles for the whole suite.

- `ci` (the default): Hypothesis's usual 100 examples, no deadline (runs touch sockets, and a
  loaded 2-core machine must not turn slowness into failures). Keeps `make test` fast.
- `thorough`: 20 times the examples, for long runs: `HYPOTHESIS_PROFILE=thorough make pytest`.

Tests that scale their own budgets read `settings.default.max_examples`.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=100, print_blob=True)
settings.register_profile("thorough", deadline=None, max_examples=2_000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
