"""Turning a trace into text a person reads: one line per step, and the trace as JSON.

Also the readings of a step's values that the story and the report share: what an endpoint
looks like to a client (`EndpointState.describe`, the one formatter of an endpoint), whether it
answers without an address, and which generation an UPDATE flips an alias to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fake_dns import ChangeKind
from reproducer.running.files import write_atomically
from reproducer.running.trace import RunResult, Step
from reproducer.world.values import EndpointState, Layout, SendUpdate

__all__ = ["answers_no_address", "flip_generation", "format_endpoints",
           "format_step", "format_trace", "trace_json", "write_trace"]


def answers_no_address(state: EndpointState) -> bool:
    """A client resolving the endpoint gets no address (an error rcode, or an empty answer)."""
    return state.rcode != "NOERROR" or not state.addresses


def format_endpoints(states: Sequence[EndpointState]) -> str:
    return "; ".join(st.describe() for st in states)


def flip_generation(step: Step, layout: Layout) -> int | None:
    """The generation an UPDATE step points an endpoint's alias at ("flips to"); None for any
    other step (a query, a store call, an UPDATE that leaves every alias alone)."""
    if not isinstance(step.taken, SendUpdate):
        return None
    aliases = {layout.endpoint_name(ep).lower() for ep in layout.endpoints}
    for change in step.taken.update.changes:
        if (change.kind is ChangeKind.ADD and change.rtype == "CNAME"
                and change.name.lower() in aliases):
            return layout.generation_of_tree(change.rdata)
    return None


def format_step(step: Step, *, width: int = 11) -> str:
    """`  12 enactor-2   UPDATE flip dynamodb to g4 ... -> NOERROR. applied g4 ...`"""
    line = f"{step.index:4} {step.worker:<{width}} {step.action} -> {step.outcome}"
    if step.note:
        line += f"\n{'':{5 + width}}  … {step.note}"
    line += f"\n{'':{5 + width}}  DNS: {format_endpoints(step.endpoints)}"
    for v in step.violations:
        line += f"\n{'':{5 + width}}  !!! {v.describe()}"
    return line


def format_trace(result: RunResult) -> list[str]:
    lines = [format_step(s) for s in result.steps]
    if result.violation is None:
        lines.append("no invariant broken" + (" — every worker finished" if result.completed
                                               else f" in {result.length} steps (step bound)"))
    return lines


def trace_json(result: RunResult) -> dict[str, Any]:
    v = result.violation
    return {"config": result.config.to_json(), "choices": list(result.choices),
            "completed": result.completed,
            "violation": None if v is None else {"invariant": v.invariant, "step": v.step,
                                                 "endpoint": v.endpoint, "detail": v.detail},
            "steps": [s.to_json() for s in result.steps]}


def write_trace(path: Path, result: RunResult) -> Path:
    return write_atomically(path, json.dumps(trace_json(result), indent=1) + "\n")
