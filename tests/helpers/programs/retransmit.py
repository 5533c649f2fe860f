"""A program that retransmits: the same UDP query twice before its answer (one request), the
same again after it (answered again, not a new request), then a query over TCP."""

import os
import socket

import dns.message
import dns.query

host, port = os.environ["REPRODUCER_DNS"].rsplit(":", 1)
alias = "dynamodb." + os.environ["REPRODUCER_ZONE"]
query = dns.message.make_query(alias, "CNAME").to_wire()
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
    udp.settimeout(30)
    udp.sendto(query, (host, int(port)))
    udp.sendto(query, (host, int(port)))  # a retransmission: the same id, the same content
    first = udp.recv(4096)
    udp.sendto(query, (host, int(port)))  # again, after the answer
    again = udp.recv(4096)
    assert first == again, "a retransmission must get the same answer"
    assert dns.message.from_wire(first).answer, "the alias must answer"
over_tcp = dns.query.tcp(dns.message.make_query(alias, "A"), host, port=int(port), timeout=30)
assert over_tcp.answer
