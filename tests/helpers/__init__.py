"""Helpers shared by the tests: enactors to put under the scheduler, and a published zone for the
load balancers. Tests import them as `tests.helpers.<module>`, and enactor specs name them the
same way (`tests.helpers.example_enactor:OneShotEnactor`): the project root is on the path."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
"""The project's root folder."""

FIXTURES = ROOT / "tests" / "fixtures"
"""Replay files and traces written by an earlier commit, which today's code must reproduce."""
