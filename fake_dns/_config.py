"""Reading the server's inputs: TSIG keys (flag, environment, BIND key file) and zone files.

Each function raises `ConfigError` with a message that names the bad input and says what is
expected; the CLI prints it as its one line of error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.transaction
import dns.zone

from fake_dns._records import RR, canonical_name
from fake_dns._zone import Zone

__all__ = ["ConfigError", "load_key_file", "load_zone_file", "parse_tsig_key"]

# BIND's key statement: key "name" { algorithm hmac-sha256; secret "base64"; };
_BIND_KEY = re.compile(
    r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>[^}]*)\}\s*;', re.IGNORECASE | re.DOTALL)
_BIND_FIELD = re.compile(r'(?P<field>algorithm|secret)\s+"?(?P<value>[^";\s]+)"?\s*;',
                         re.IGNORECASE)


class ConfigError(ValueError):
    """A flag, environment variable or file cannot be used; the message says which value,
    why, and what form is expected."""


def _secret(name: str, text: str, source: str) -> bytes:
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: the secret of key {name!r} is not valid base64") from None
    if not secret:
        raise ConfigError(f"{source}: the secret of key {name!r} is empty")
    return secret


def parse_tsig_key(spec: str, source: str = "--tsig-key") -> tuple[str, bytes]:
    """'NAME:BASE64' or 'hmac-sha256:NAME:BASE64' (dig/nsupdate -y syntax) -> (name, secret)."""
    parts = spec.strip().split(":")
    if len(parts) == 3 and parts[0].lower() == "hmac-sha256":
        parts = parts[1:]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ConfigError(f"{source}: expected NAME:BASE64SECRET (HMAC-SHA256), got {spec!r}")
    try:
        name = canonical_name(parts[0])
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return name, _secret(name, parts[1], source)


def load_key_file(path: Path) -> dict[str, bytes]:
    """Keys from a BIND key file (as written by tsig-keygen), or NAME:BASE64 lines."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    keys: dict[str, bytes] = {}
    statements = list(_BIND_KEY.finditer(text))
    for match in statements:
        fields = {m["field"].lower(): m["value"] for m in _BIND_FIELD.finditer(match["body"])}
        name = canonical_name(match["name"])
        algorithm = fields.get("algorithm", "").lower()
        if algorithm != "hmac-sha256":
            raise ConfigError(f"key file {path}: key {name!r} uses algorithm {algorithm!r}; "
                              "only hmac-sha256 is served (tsig-keygen -a hmac-sha256)")
        if "secret" not in fields:
            raise ConfigError(f"key file {path}: key {name!r} has no secret")
        keys[name] = _secret(name, fields["secret"], f"key file {path}")
    if not statements:
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, secret = parse_tsig_key(line, f"key file {path}")
                keys[name] = secret
    if not keys:
        raise ConfigError(f"key file {path} holds no key (expected BIND 'key \"name\" {{ "
                          "algorithm hmac-sha256; secret \"...\"; }};' or NAME:BASE64 lines)")
    return keys


def _guess_origin(text: str, path: Path) -> str | None:
    """The origin when the file does not say $ORIGIN: the owner of its first record if that is
    absolute, else the file name without a .zone/.db suffix (example.test.zone)."""
    for line in text.splitlines():
        stripped = line.split(";", 1)[0].strip()
        if not stripped:
            continue
        if stripped.upper().startswith("$ORIGIN"):
            return None  # dnspython reads it
        if stripped.startswith("$"):
            continue
        owner = stripped.split()[0]
        if owner.endswith(".") and not line[0].isspace():
            return owner
        break
    stem = path.name.removesuffix(".zone").removesuffix(".db").removeprefix("db.")
    return stem + "."


class _Collected(dns.transaction.Transaction):
    """Where dnspython's master-file reader puts each record it reads: here, in a list.

    dnspython's own transactions merge each record into its RRset by copying the RRset
    (`Transaction.add` unions it with what `_get_rdataset` returns), so reading n records at
    one name costs O(n²): 20,000 took seconds. This one returns no RRset to merge with and
    only appends; `Zone` builds the RRsets in linear time. It also returns no node, so the
    reader's CNAME-and-other-data check is left to `Zone` too.
    """

    def __init__(self, manager: _CollectingZone, replacement: bool, read_only: bool) -> None:
        super().__init__(manager, replacement, read_only)
        self.zone = manager

    def _get_rdataset(self, name: object, rdtype: object, covers: object) -> None:
        return None

    def _put_rdataset(self, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        self.zone.collected.append((name, rdataset))

    def _get_node(self, name: object) -> None:
        return None

    def _set_origin(self, origin: dns.name.Name) -> None:
        if self.zone.origin is None:
            self.zone.origin = origin

    def _changed(self) -> bool:
        return bool(self.zone.collected)

    def _end_transaction(self, commit: bool) -> None:
        pass

    def _name_exists(self, name: object) -> bool:
        return False

    def _delete_name(self, name: object) -> None:
        raise NotImplementedError  # the master-file reader only adds

    def _delete_rdataset(self, name: object, rdtype: object, covers: object) -> None:
        raise NotImplementedError

    def _iterate_rdatasets(self) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
        return iter(self.zone.collected)

    def _iterate_names(self) -> Iterator[dns.name.Name]:
        return (name for name, _ in self.zone.collected)


class _CollectingZone(dns.zone.Zone):
    """A `zone_factory` for `dns.zone.from_text` whose writer is `_Collected`."""

    def __init__(self, origin: dns.name.Name | str | None,
                 rdclass: dns.rdataclass.RdataClass = dns.rdataclass.IN,
                 relativize: bool = True) -> None:
        super().__init__(origin, rdclass, relativize)
        self.collected: list[tuple[dns.name.Name, dns.rdataset.Rdataset]] = []

    # dnspython types Zone.writer as returning its own Transaction; the master-file reader
    # needs only the base class's interface, which _Collected implements.
    def writer(self, replacement: bool = False) -> _Collected:  # type: ignore[override]
        return _Collected(self, replacement, False)


def load_zone_file(path: Path, origin: str | None = None) -> Zone:
    """A zone from an RFC 1035 §5 master file ($ORIGIN, $TTL, @, parentheses, relative names),
    in time linear in its number of records."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 ({exc.reason})"
        raise ConfigError(f"cannot read zone file {path}: {reason or exc}") from None
    origin = origin or _guess_origin(text, path)
    try:
        parsed = dns.zone.from_text(text, origin=origin, relativize=False, filename=str(path),
                                    zone_factory=_CollectingZone, check_origin=False)
        assert isinstance(parsed, _CollectingZone)
        apex = parsed.origin.to_text() if parsed.origin else "."
        soa: RR | None = None
        records: list[RR] = []
        for name, rdataset in parsed.collected:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            for rdata in rdataset:
                rr = RR.make(name.to_text(), rtype, rdataset.ttl, rdata.to_text())
                if rtype == "SOA" and rr.name == canonical_name(apex):
                    soa = rr
                else:
                    records.append(rr)
        if soa is None:
            raise ConfigError(f"zone file {path} has no SOA record at its origin {apex}")
        if not any(rr.rtype == "NS" and rr.name == soa.name for rr in records):
            raise ConfigError(f"zone file {path} has no NS record at its origin {apex}")
        return Zone(apex, soa, records)
    except (dns.exception.DNSException, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"zone file {path} is not a valid master file: {exc}") from None
