"""The manual repair operators did on 20 October (the AWS post-event summary,
aws.amazon.com/message/101925: the DNS records were restored by operator intervention): write
the newest plan's trees again, point every alias and rollback record at them, and free the
lock — one UPDATE, with no prerequisite, because the automation's own state is what is
broken."""

from __future__ import annotations

from collections.abc import Sequence

from fake_dns import Change, ChangeKind, Update
from reproducer.world.config import Config
from reproducer.world.values import ALIAS_TTL_S, LockValue, Plan, Target

__all__ = ["repair_plan", "repair_update"]


def repair_plan(config: Config, addresses: Sequence[str] = ()) -> Plan:
    """The newest plan of the configuration, or one made of `addresses` (weight 1 each)."""
    if not addresses:
        return config.plan(config.newest_generation)
    targets = tuple(Target(a, 1) for a in addresses)
    return Plan(config.newest_generation, tuple((ep, targets) for ep in config.layout.endpoints))


def repair_update(config: Config, plan: Plan) -> Update:
    lay = config.layout
    changes: list[Change] = [Change(ChangeKind.DELETE_RRSET, lay.lock_name, "TXT"),
                             Change(ChangeKind.ADD, lay.lock_name, "TXT", 0,
                                    LockValue.free().txt)]
    for ep in lay.endpoints:
        tree = lay.tree_name(ep, plan.generation)
        changes.append(Change(ChangeKind.DELETE_NAME, tree))
        changes += [Change(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)
                    for rr in lay.tree_records(plan, ep)]
        for name in (lay.endpoint_name(ep), lay.rollback_name(ep)):
            changes += [Change(ChangeKind.DELETE_RRSET, name, "CNAME"),
                        Change(ChangeKind.ADD, name, "CNAME", ALIAS_TTL_S, tree)]
    return Update(lay.zone, (), tuple(changes))
