"""The successor rule and the identity of a breadth-first search: the identities are the same
in every process (a split search needs them to be), and the one-process search and a share step
the same workers from a state."""

from __future__ import annotations

import os
import subprocess
import sys

from reproducer import Config
from reproducer.search.distributed.partition import Partition
from reproducer.search.exhaustive.expansion import Expansion, stable_identity
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS


def test_identities_are_the_same_in_processes_with_different_string_hashes() -> None:
    script = ("from reproducer import Config\n"
              "from reproducer.search.exhaustive.expansion import Expansion\n"
              "from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS\n"
              "e = Expansion(Config(variant='aws-2025', enactors=3, plans=2), "
              "DEFAULT_REDUCTIONS, stable=True)\n"
              "ident = e.identity\n"
              "s, out = e.engine.root, []\n"
              "for i in range(25):\n"
              "    out.append((ident.fingerprint(s), ident.place(s)))\n"
              "    r = e.movers(s)\n"
              "    s = e.engine.step(s, r[i % len(r)])[0]\n"
              "print(out)\n")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_a_share_steps_the_workers_the_one_process_rule_steps() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)
    one = Expansion(config, DEFAULT_REDUCTIONS)
    share = Partition(config, 0, 1, list(DEFAULT_REDUCTIONS))
    assert share.used == one.used
    state = one.engine.root
    twin = share.engine.root
    for _ in range(12):
        here = [w for w, _ in one.children(state)]
        assert [w for w, _ in share.expansion.children(twin)] == here
        state = one.engine.step(state, here[-1])[0]
        twin = share.engine.step(twin, here[-1])[0]


def test_a_narrowed_rule_steps_only_the_workers_it_is_given() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)
    planner_and_first = Expansion(config, DEFAULT_REDUCTIONS, movers=frozenset({0, 1}))
    root = planner_and_first.engine.root
    assert {w for w, _ in planner_and_first.children(root)} <= {0, 1}


def test_async_enactors_have_identities_of_one_process_only() -> None:
    assert stable_identity(Config(variant="aws-2025", enactors=2), DEFAULT_REDUCTIONS)
    assert not stable_identity(Config(enactor="examples.aws_2025:enactor", enactors=2),
                               DEFAULT_REDUCTIONS)
