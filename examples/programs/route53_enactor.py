#!/usr/bin/env python3
"""The DNS Enactor of the October 2025 outage, as the program it was: a loop that reads plans
and writes them into DNS through Route 53 change batches, with boto3.

Read it next to the AWS post-event summary (aws.amazon.com/message/101925) and the DynamoDB
talk at re:Invent 2025 (DAT453). It does what the summary says the enactors did:
- it picks up the newest plan and checks ONCE that it is newer than the plan in DNS,
  long before it writes (check, then act);
- it writes the plan's record tree, then flips each endpoint's alias to it with an UPSERT:
  the last writer wins, whatever the alias holds by then;
- it cleans up by age: the trees and plans older than the plan it just applied, minus
  --keep generations, are deleted.

`--flip cas` is the fix, the Route 53 way (`flip_compare_and_set`): the flip is one change
batch that DELETEs the alias exactly as it was read and CREATEs the new one. Route 53 applies a
batch all or nothing and refuses a DELETE whose values differ from the set's, so the flip fails
when anyone flipped the alias since it was read; the enactor reads it again and drops the flip
if the alias already holds this plan or a newer one. The active generation then only goes up,
so clean-up by age never reaches the active tree.

Nothing in it knows the reproducer: it reads the plan store over HTTP (REPRODUCER_PLANS) and
talks to Route 53 wherever AWS_ENDPOINT_URL_ROUTE_53 points. Under the scheduler, every call
it makes is one scheduling point:

    reproducer explore --program "python examples/programs/route53_enactor.py" --enactors 2
    reproducer explore --program "python examples/programs/route53_enactor.py --flip cas" \
        --enactors 2

It also runs, unchanged, against a real `fake-dns --route53` and any plan store that serves the
same JSON (docs/programs.md shows how).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.request
from typing import Any

import boto3

TTL = 3  # the tree's and the alias's TTL, seconds


class Plans:
    """The plan store, over HTTP: GET /plans, GET /plans/newest?newer_than=N, DELETE /plans/G."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request) as response:
            body = response.read()
        return json.loads(body) if body else None

    def newest(self, newer_than: int) -> dict[str, Any] | None:
        """Wait for a plan newer than `newer_than`; None once the planner has stopped."""
        plan: dict[str, Any] | None = self._call("GET", f"/plans/newest?newer_than={newer_than}")
        return plan

    def all(self) -> list[dict[str, Any]]:
        plans: list[dict[str, Any]] = self._call("GET", "/plans")
        return plans

    def delete(self, generation: int) -> None:
        self._call("DELETE", f"/plans/{generation}")


class Zone:
    """The hosted zone, through boto3's Route 53 client."""

    def __init__(self, name: str) -> None:
        self.route53 = boto3.client("route53")
        zones = self.route53.list_hosted_zones_by_name(DNSName=name, MaxItems="1")
        self.id = zones["HostedZones"][0]["Id"]

    def record_set(self, name: str, rtype: str) -> dict[str, Any] | None:
        """The record set (name, type) as it is now, or None."""
        found = self.route53.list_resource_record_sets(
            HostedZoneId=self.id, StartRecordName=name, StartRecordType=rtype, MaxItems="1")
        for rrset in found["ResourceRecordSets"]:
            if rrset["Name"] == name and rrset["Type"] == rtype:
                return dict(rrset)
        return None

    def change(self, changes: list[dict[str, Any]]) -> bool:
        """One change batch; False when Route 53 refuses it (InvalidChangeBatch)."""
        try:
            self.route53.change_resource_record_sets(HostedZoneId=self.id,
                                                     ChangeBatch={"Changes": changes})
        except self.route53.exceptions.InvalidChangeBatch:
            return False
        return True


def tree_set(endpoint: dict[str, Any]) -> dict[str, Any]:
    """A plan's record tree for one endpoint: one A record per load balancer."""
    return {"Name": endpoint["tree"], "Type": "A", "TTL": TTL,
            "ResourceRecords": [{"Value": a} for a in endpoint["addresses"]]}


def alias_set(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {"Name": endpoint["name"], "Type": "CNAME", "TTL": TTL,
            "ResourceRecords": [{"Value": endpoint["tree"]}]}


def generation_of(alias: dict[str, Any] | None) -> int:
    """g0004.dynamodb.plans.<zone> -> 4 (0 when the alias is missing)."""
    if alias is None:
        return 0
    found = re.match(r"g(\d+)\.", alias["ResourceRecords"][0]["Value"])
    return int(found.group(1)) if found else 0


def flip_upsert(zone: Zone, endpoint: dict[str, Any], read: dict[str, Any] | None,
                generation: int) -> bool:
    """Point the endpoint's alias at the plan's tree. The outage's way: UPSERT, whatever the
    alias holds now (`read`, what the check saw long ago, is not looked at)."""
    return zone.change([{"Action": "UPSERT", "ResourceRecordSet": alias_set(endpoint)}])


def flip_compare_and_set(zone: Zone, endpoint: dict[str, Any], read: dict[str, Any] | None,
                         generation: int) -> bool:
    """The fix: flip the alias only from what it holds — DELETE exactly `read` and CREATE the
    new alias in one change batch; when that fails, look again."""
    while generation_of(read) < generation:
        changes = [{"Action": "CREATE", "ResourceRecordSet": alias_set(endpoint)}]
        if read is not None:
            changes.insert(0, {"Action": "DELETE", "ResourceRecordSet": read})
        if zone.change(changes):
            return True
        read = zone.record_set(endpoint["name"], "CNAME")  # someone flipped it since
    return False


FLIPS = {"upsert": flip_upsert, "cas": flip_compare_and_set}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=int, default=1,
                        help="clean-up keeps this many generations below the one applied")
    parser.add_argument("--flip", choices=FLIPS, default="upsert",
                        help="upsert: the outage's flip (default); cas: the fix")
    args = parser.parse_args()
    flip_alias = FLIPS[args.flip]
    plans = Plans(os.environ["REPRODUCER_PLANS"])
    zone = Zone(os.environ["REPRODUCER_ZONE"])
    done = 0
    while (plan := plans.newest(newer_than=done)) is not None:
        generation = plan["generation"]
        # The one-time check: is this plan newer than the one in DNS? (Checked once, here;
        # the flips below come much later.)
        aliases = {ep["name"]: zone.record_set(ep["name"], "CNAME") for ep in plan["endpoints"]}
        if all(generation_of(a) >= generation for a in aliases.values()):
            done = generation
            continue
        # The plan's record trees, then the flips.
        zone.change([{"Action": "UPSERT", "ResourceRecordSet": tree_set(ep)}
                     for ep in plan["endpoints"]])
        for ep in plan["endpoints"]:
            flip_alias(zone, ep, aliases[ep["name"]], generation)
        done = generation
        # Clean-up by age: every plan older than the one just applied, minus --keep.
        for old in plans.all():
            if old["generation"] < generation - args.keep:
                for ep in old["endpoints"]:
                    zone.change([{"Action": "DELETE", "ResourceRecordSet": tree_set(ep)}])
                plans.delete(old["generation"])


if __name__ == "__main__":
    main()
