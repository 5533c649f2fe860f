"""What a program's messages mean, without I/O: a request in, the action it asks the world for;
the world's answer in, the bytes that answer the program.

Rules
-----
- Rule 1: every request that reads or writes the world becomes one action value, and nothing
  is decided here: a DNS query is a `Query`, an RFC 2136 UPDATE a `SendUpdate`, a Route 53
  call a `Route53Call`, the plan store's `GET /plans` a `ReadPlans`, `GET
  /plans/newest?newer_than=N` a `ReadNewestPlan(N)` and `DELETE /plans/G` a
  `DeletePlans((G,))`. The scheduling core performs them.
- Rule 2: a request the world has nothing to do with is answered at once, by the same rules
  a server would answer it with: a malformed DNS message, an unsigned UPDATE, a signature that
  does not verify (`fake_dns.read_request`), an unknown plan-store path or method (404, 405),
  a `newer_than` that is not a count (400).
- Rule 3: the answer is built from the result value alone, the way fake_dns and a plan store
  would build it (`fake_dns.answer_query`, `fake_dns.answer_update`, the Route 53 API's
  response, the plan as JSON), so the same result always makes the same answer.

The plan store's JSON, which a program needs nothing of this project's code to read:

    {"generation": 4,
     "endpoints": [{"name": "dynamodb.us-east-1.amazonaws.com.",
                    "tree": "g0004.dynamodb.plans.us-east-1.amazonaws.com.",
                    "addresses": ["127.0.0.11", "127.0.0.12", "127.0.0.13"]}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from dns.rcode import Rcode

from fake_dns import DnsRequest, LookupResult, answer_query, answer_update
from reproducer.world.values import (
    Action,
    DeletePlans,
    Done,
    Layout,
    Plan,
    PlanRead,
    PlansRead,
    Query,
    ReadNewestPlan,
    ReadPlans,
    Result,
    SendUpdate,
    UpdateOutcome,
)

__all__ = ["HttpAnswer", "dns_action", "dns_answer", "plan_json", "plan_store_action",
           "plan_store_answer"]

JSON = (("Content-Type", "application/json"),)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP response: status, headers, body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def _error(status: int, message: str) -> HttpAnswer:
    return HttpAnswer(status, JSON, json.dumps({"error": message}).encode())


def plan_json(plan: Plan, layout: Layout) -> dict[str, object]:
    """A plan as the plan store serves it (the module docstring)."""
    return {"generation": plan.generation,
            "endpoints": [{"name": layout.endpoint_name(label),
                           "tree": layout.tree_name(label, plan.generation),
                           "addresses": [t.address for t in targets]}
                          for label, targets in plan.endpoints]}


def plan_store_action(method: str, path: str, query: Mapping[str, str]
                      ) -> Action | HttpAnswer:
    """The action a plan-store request asks for, or its answer at once (Rule 2)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] != "plans" or len(parts) > 2:
        return _error(404, f"no such resource {path!r}: the plan store serves /plans, "
                           "/plans/newest?newer_than=N and /plans/G")
    if len(parts) == 1:
        if method != "GET":
            return _error(405, f"{method} /plans: use GET")
        return ReadPlans()
    if parts[1] == "newest":
        if method != "GET":
            return _error(405, f"{method} /plans/newest: use GET")
        text = query.get("newer_than", "0")
        if not text.isdigit():
            return _error(400, f"newer_than={text!r}: a generation, a count such as 0 or 4")
        return ReadNewestPlan(int(text))
    if not parts[1].isdigit():
        return _error(404, f"no such plan {parts[1]!r}: plans are named by their generation")
    if method != "DELETE":
        return _error(405, f"{method} /plans/{parts[1]}: use DELETE (GET /plans lists them)")
    return DeletePlans((int(parts[1]),))


def plan_store_answer(result: Result, layout: Layout) -> HttpAnswer:
    """The HTTP answer to a plan-store action from the world's result (Rule 3): a plan, 204
    once the planner has stopped with nothing newer; every plan; 204 for a delete."""
    match result:
        case PlanRead(plan=None):
            return HttpAnswer(204)
        case PlanRead(plan=plan) if plan is not None:
            return HttpAnswer(200, JSON, json.dumps(plan_json(plan, layout)).encode())
        case PlansRead(plans=plans):
            return HttpAnswer(200, JSON,
                              json.dumps([plan_json(p, layout) for p in plans]).encode())
        case Done():
            return HttpAnswer(204)
    raise AssertionError(f"not a plan-store result: {result!r}")


def dns_action(request: DnsRequest) -> Query | SendUpdate:
    """The action of a DNS request that needs the zone (Rule 1)."""
    if request.update is not None:
        return SendUpdate(request.update)
    assert request.question is not None
    name, rtype = request.question
    return Query(name.lower(), rtype)


def dns_answer(request: DnsRequest, result: Result, keys: Mapping[str, bytes],
               now: int) -> bytes:
    """The answer's bytes from the zone's result (Rule 3), signed with the request's key."""
    if isinstance(result, LookupResult):
        return answer_query(request, result, keys=keys, now=now)
    if isinstance(result, UpdateOutcome):
        return answer_update(request, Rcode[result.rcode], keys=keys, now=now)
    raise AssertionError(f"not a DNS result: {result!r}")
