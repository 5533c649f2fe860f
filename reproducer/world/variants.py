"""The enactor variants: the outage's own design, the tempting fixes that are still racy, and
the fixes that hold. A variant is a `Policy` (the knobs `StateMachineEnactor` reads) with a name
and one sentence.

A new variant goes here: one `Variant(...)` in `VARIANTS`, and, if no existing knob expresses
it, a new `Policy` field read by `reproducer.world.enactor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["VARIANTS", "CleanupMode", "EnactorSettings", "Policy", "Variant"]


CleanupMode = Literal["age", "check-then-delete", "cas"]


@dataclass(frozen=True, slots=True)
class Policy:
    """The knobs that tell the variants apart."""

    recheck_before_flip: bool  # re-read the alias and re-check freshness before each flip
    cas_flip: bool  # the flip's UPDATE carries "alias is still what I read" + "my tree exists"
    cleanup: CleanupMode


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    correct: bool
    summary: str
    policy: Policy


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("aws-2025", False,
            "faithful to the outage: one-time freshness check, clean-up by age, the rollback "
            "must point at the active tree (stuck once it is gone)",
            Policy(recheck_before_flip=False, cas_flip=False, cleanup="age")),
    Variant("recheck-before-write", False,
            "tempting fix: re-read the alias and re-check freshness in a separate query before "
            "each flip; the window between the check and the write stays open",
            Policy(recheck_before_flip=True, cas_flip=False, cleanup="age")),
    Variant("cleanup-checks-active", False,
            "tempting fix: the re-check above, and clean-up reads which trees are active and "
            "spares them, but deletes in a later step (its own check-then-act)",
            Policy(recheck_before_flip=True, cas_flip=False, cleanup="check-then-delete")),
    Variant("cas-flip", True,
            "correct fix: check and write are one UPDATE (RFC 2136 value-dependent prerequisite "
            "on the alias: compare-and-set), so the active generation only goes up and clean-up "
            "by age can never reach it",
            Policy(recheck_before_flip=True, cas_flip=True, cleanup="age")),
    Variant("cas-guarded", True,
            "correct fix, belt and braces: compare-and-set flips, and clean-up deletes only "
            "under a prerequisite that every alias still points where it read (never a tree an "
            "alias may point at)",
            Policy(recheck_before_flip=True, cas_flip=True, cleanup="cas")),
)}


@dataclass(frozen=True, slots=True)
class EnactorSettings:
    keep_generations: int = 1
    lease_ms: int = 5_000
    backoff_base_ms: int = 1_000
    backoff_max_ms: int = 8_000
    max_failures: int = 2


