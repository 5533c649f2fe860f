"""Route 53 API values: requests, change batches, errors and responses, all frozen.

A request is parsed once (`fake_dns._route53_wire.parse_request`) into a `Route53Request`: the
HTTP envelope it came in (method, path, query, body, who signed it) and the typed `operation`
it asks for. Everything a scheduler needs to hold, describe, record and replay a request is
here, without a store: `describe()` says in words what it asks for, `digest()` is a canonical
hash of what was sent.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

__all__ = [
    "Action",
    "ApiError",
    "ChangeBatch",
    "ChangeResourceRecordSets",
    "GetChange",
    "GetHostedZone",
    "GetHostedZoneCount",
    "ListHostedZones",
    "ListHostedZonesByName",
    "ListResourceRecordSets",
    "Operation",
    "RecordSetChange",
    "Rejected",
    "Route53Request",
    "Route53Response",
]

API_VERSION = "2013-04-01"
NAMESPACE = f"https://route53.amazonaws.com/doc/{API_VERSION}/"


class Action(enum.Enum):
    """The three actions of a ChangeResourceRecordSets change (API reference, `Change`)."""

    CREATE = "CREATE"
    DELETE = "DELETE"
    UPSERT = "UPSERT"


@dataclass(frozen=True, slots=True)
class RecordSetChange:
    """One `<Change>`: an action on one resource record set, as the client sent it (name, type
    and values are checked and made canonical when the batch is applied, not here)."""

    action: Action
    name: str
    rtype: str
    ttl: int
    values: tuple[str, ...]

    def describe(self) -> str:
        """'DELETE dynamodb.example. A 10.0.0.1 ttl 60'."""
        return " ".join((self.action.value, self.name, self.rtype, *self.values,
                         "ttl", str(self.ttl)))


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    changes: tuple[RecordSetChange, ...]
    comment: str | None = None

    def describe(self) -> str:
        """The changes in words, in order, separated by '; '."""
        return "; ".join(change.describe() for change in self.changes)


# -- operations ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListHostedZones:
    marker: str | None = None  # a hosted zone id: the listing starts there
    max_items: int = 100


@dataclass(frozen=True, slots=True)
class ListHostedZonesByName:
    dns_name: str | None = None
    hosted_zone_id: str | None = None
    max_items: int = 100


@dataclass(frozen=True, slots=True)
class GetHostedZone:
    zone_id: str


@dataclass(frozen=True, slots=True)
class GetHostedZoneCount:
    pass


@dataclass(frozen=True, slots=True)
class ListResourceRecordSets:
    zone_id: str
    start_name: str | None = None
    start_type: str | None = None
    max_items: int = 300


@dataclass(frozen=True, slots=True)
class GetChange:
    change_id: str


@dataclass(frozen=True, slots=True)
class ChangeResourceRecordSets:
    zone_id: str
    batch: ChangeBatch


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error answer in Route 53's shape. `messages` is InvalidChangeBatch's list (one per
    problem in the batch); `sender` False marks our own failure (`<Type>Receiver</Type>`)."""

    status: int
    code: str
    message: str
    messages: tuple[str, ...] = ()
    sender: bool = True

    def describe(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A request that names no operation we can run (unknown path, wrong method, malformed
    XML, a missing element): it is answered with `error` and changes nothing."""

    error: ApiError


Operation = (ListHostedZones | ListHostedZonesByName | GetHostedZone | GetHostedZoneCount
             | ListResourceRecordSets | GetChange | ChangeResourceRecordSets | Rejected)


@dataclass(frozen=True, slots=True)
class Route53Request:
    """One HTTP request to the API: its envelope and the operation it asks for.

    `access_key_id` is the key id of the SigV4 `Authorization` header when there is one (the
    signature itself is not checked): the default name of who made a change.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    operation: Operation
    access_key_id: str | None = None

    @property
    def writes(self) -> bool:
        """True when applying it may change the zone (a ChangeResourceRecordSets)."""
        return isinstance(self.operation, ChangeResourceRecordSets)

    def digest(self) -> str:
        """A canonical hash of what was sent: the method, the path with its query in sorted
        order, and the body. Headers (the signature, its date, the user agent) are left out,
        so the same call made again has the same digest."""
        query = "&".join(f"{k}={v}" for k, v in sorted(self.query))
        head = f"{self.method.upper()} {self.path}?{query}\n".encode()
        return hashlib.sha256(head + self.body).hexdigest()

    def describe(self) -> str:
        """The request in words: 'ChangeResourceRecordSets Z...: DELETE a. A 10.0.0.1 ttl 60'."""
        op = self.operation
        if isinstance(op, ChangeResourceRecordSets):
            return f"ChangeResourceRecordSets {op.zone_id}: {op.batch.describe()}"
        if isinstance(op, ListResourceRecordSets):
            start = " ".join(p for p in (op.start_name, op.start_type) if p)
            return (f"ListResourceRecordSets {op.zone_id}" + (f" from {start}" if start else "")
                    + f" max {op.max_items}")
        if isinstance(op, GetHostedZone):
            return f"GetHostedZone {op.zone_id}"
        if isinstance(op, GetChange):
            return f"GetChange {op.change_id}"
        if isinstance(op, Rejected):
            return f"{self.method} {self.path} (rejected: {op.error.describe()})"
        return type(op).__name__


@dataclass(frozen=True, slots=True)
class Route53Response:
    """What the API answers: HTTP status, headers and XML body; `error` when it is one, and
    `change_id` when a change batch was accepted."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: ApiError | None = None
    change_id: str | None = None

    def describe(self) -> str:
        if self.error is not None:
            return self.error.describe()
        return f"{self.status} {self.change_id}" if self.change_id else str(self.status)
