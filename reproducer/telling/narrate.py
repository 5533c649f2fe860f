"""Turning a trace into text a person reads: one line per step, and the trace as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reproducer.running.trace import RunResult, Step
from reproducer.world.values import EndpointState

__all__ = ["format_endpoints", "format_step", "format_trace", "trace_json", "write_trace"]


def format_endpoints(states: tuple[EndpointState, ...]) -> str:
    parts = []
    for st in states:
        if st.rcode != "NOERROR":
            parts.append(f"{st.endpoint}: {st.rcode}")
        elif not st.addresses:
            gen = f"g{st.generation}" if st.generation is not None else "?"
            parts.append(f"{st.endpoint} -> {gen}: NO ADDRESSES")
        else:
            gen = f"g{st.generation}" if st.generation is not None else "?"
            parts.append(f"{st.endpoint} -> {gen} ({len(st.addresses)} addresses)")
    return "; ".join(parts)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trace_json(result), indent=1) + "\n")
    return path
