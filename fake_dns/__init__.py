"""fake_dns: a real authoritative DNS server (UDP+TCP, RFC 2136 UPDATE with TSIG) on loopback.

Public API:
- values: `RR`, `Update`, `Prerequisite`, `PrereqKind`, `Change`, `ChangeKind`
- engine: `Zone`, `ZoneStore`, `LookupResult`, `UpdateResult`, `CommittedUpdate`
"""

from fake_dns._records import RR, Change, ChangeKind, PrereqKind, Prerequisite, Update
from fake_dns._zone import CommittedUpdate, LookupResult, UpdateResult, Zone, ZoneStore

__all__ = [
    "RR",
    "Change",
    "ChangeKind",
    "CommittedUpdate",
    "LookupResult",
    "PrereqKind",
    "Prerequisite",
    "Update",
    "UpdateResult",
    "Zone",
    "ZoneStore",
]
