"""fake_dns: a real authoritative DNS server (UDP+TCP, RFC 2136 UPDATE with TSIG) on loopback.

Public API:
- values: `RR`, `Update`, `Prerequisite`, `PrereqKind`, `Change`, `ChangeKind`
- engine: `Zone`, `ZoneStore`, `LookupResult`, `UpdateResult`, `CommittedUpdate`
- configuration: `parse_tsig_key` (NAME:BASE64, or nsupdate's hmac-sha256:NAME:BASE64),
  `ConfigError`
- wire: `update_from_wire` (an UPDATE built by another library, as a value), `WireError`
- the server's steps without sockets: `read_request` (bytes -> a `DnsRequest` to answer from
  the zone, or the answer at once), `answer_query` (a `LookupResult` -> the answer's bytes),
  `answer_update` (an UPDATE's rcode -> the answer's bytes), TSIG-signed with the request's key
- network: `DNSServer` (async with; UDP+TCP on one port), `DNSClient` (queries and
  TSIG-signed updates over one persistent UDP endpoint), `UpdateReply`, `DNSClientError`
- journal: `read_journal` (the committed updates a server's `--journal` file holds),
  `JournalError`

Module `fake_dns.route53` (imported on its own: it brings in aiohttp), a Route 53 API
(2013-04-01) over the same `ZoneStore`, served by `fake-dns --route53 HOST:PORT`:
- sans-I/O: `parse_request` (HTTP in -> `Route53Request`, whose `operation` is one of
  `ListHostedZones`, `ListHostedZonesByName`, `GetHostedZone`, `GetHostedZoneCount`,
  `ListResourceRecordSets`, `GetChange`, `ChangeResourceRecordSets` or `Rejected`),
  `Route53Api` (`handle(request) -> Route53Response`), `ChangeBatch`, `RecordSetChange`,
  `Action`, `ApiError`, `Operation`, `hosted_zone_id`
- network: `route53_app` (aiohttp, with a `hold` hook awaited before each request is
  applied), `Route53Server` (async with)
"""

from fake_dns._client import DNSClient, DNSClientError, UpdateReply
from fake_dns._config import ConfigError, parse_tsig_key
from fake_dns._journal import JournalError, read_journal
from fake_dns._records import RR, Change, ChangeKind, PrereqKind, Prerequisite, Update
from fake_dns._responder import DnsRequest, answer_query, answer_update, read_request
from fake_dns._server import DNSServer
from fake_dns._wire import WireError, update_from_wire
from fake_dns._zone import CommittedUpdate, LookupResult, UpdateResult, Zone, ZoneStore

__all__ = [
    "RR",
    "Change",
    "ChangeKind",
    "CommittedUpdate",
    "ConfigError",
    "DNSClient",
    "DNSClientError",
    "DNSServer",
    "DnsRequest",
    "JournalError",
    "LookupResult",
    "PrereqKind",
    "Prerequisite",
    "Update",
    "UpdateReply",
    "UpdateResult",
    "WireError",
    "Zone",
    "ZoneStore",
    "answer_query",
    "answer_update",
    "parse_tsig_key",
    "read_journal",
    "read_request",
    "update_from_wire",
]
