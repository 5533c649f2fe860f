"""The correct fix, as ordinary asyncio code: the freshness check and the write are one UPDATE.

The same enactor as `examples.aws_2025`, with two changes in `apply_plan`: before each flip it
reads the alias again and skips an endpoint that already has this plan or a newer one, and the
flip's UPDATE carries a value-dependent prerequisite (RFC 2136 §2.4.2) that the alias is still
the tree it read — a compare-and-set, the only way to make check and write one step in DNS. The
active generation then only goes up, so clean-up by age can never reach the active tree.

    .venv/bin/reproducer explore --strategy bfs --enactor examples.cas_flip:enactor --enactors 2
"""

from __future__ import annotations

from examples.aws_2025 import run_enactor
from reproducer import Handle


async def enactor(h: Handle) -> None:
    """cas-flip: re-check before each flip, and the flip is a compare-and-set."""
    await run_enactor(h, recheck=True, cas=True)
