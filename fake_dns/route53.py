"""A Route 53 compatible API (version 2013-04-01, REST + XML) over fake_dns's `ZoneStore`.

boto3 and the AWS CLI work against it unchanged, given
`AWS_ENDPOINT_URL_ROUTE_53=http://HOST:PORT` and any credentials (a SigV4 signature is
accepted without being checked). `fake-dns --route53 HOST:PORT` serves it beside DNS: one
process, one store, one journal, so a change made here is answered by the next DNS query and
an RFC 2136 UPDATE is listed by the next ListResourceRecordSets.

Theory of operation
-------------------
Three layers, the first two without I/O:

1. `parse_request(method, path, query, headers, body) -> Route53Request`: the HTTP envelope and
   a typed operation (`ChangeResourceRecordSets`, `ListResourceRecordSets`, ... or `Rejected`
   with the error to answer). It never raises. A request can then be held, described
   (`describe()`, `ChangeBatch.describe()`: "DELETE a.example. A 10.0.0.1 ttl 60; CREATE ...")
   and recorded (`digest()`: a hash of method, path with query, and body) before anything
   happens to the zone.
2. `Route53Api(store).handle(request) -> Route53Response` (status, headers, body): reads
   look at the store as it is; a change batch is checked with Route 53's rules and applied
   by one `ZoneStore.apply` call in the same synchronous step, all or nothing. Errors come in
   Route 53's shape (`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code>
   <Message>[Tried to create ...]</Message>...`), never as a traceback.
3. `route53_app(api, hold=...)` / `Route53Server`: aiohttp around the two. `hold(request)` is
   awaited between parsing and applying: a scheduler holds a program's request there until it
   grants it. Many apps may share one `Route53Api` (one listener per program, one world).

Route 53's rules, the hosted zone ids and the error messages are described where they are
applied (`fake_dns._route53_batch`, `fake_dns._route53_api`); `docs/route53.md` is the guide.
"""

from fake_dns._route53_api import Route53Api, hosted_zone_id
from fake_dns._route53_http import Route53Server, route53_app
from fake_dns._route53_values import (
    Action,
    ApiError,
    ChangeBatch,
    ChangeResourceRecordSets,
    GetChange,
    GetHostedZone,
    GetHostedZoneCount,
    ListHostedZones,
    ListHostedZonesByName,
    ListResourceRecordSets,
    Operation,
    RecordSetChange,
    Rejected,
    Route53Request,
    Route53Response,
)
from fake_dns._route53_wire import parse_request

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
    "Route53Api",
    "Route53Request",
    "Route53Response",
    "Route53Server",
    "hosted_zone_id",
    "parse_request",
    "route53_app",
]
