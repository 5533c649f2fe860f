"""A program that is not deterministic: its second request asks for a random name."""

import os
import random
import urllib.request

import dns.message
import dns.query

host, port = os.environ["REPRODUCER_DNS"].rsplit(":", 1)
urllib.request.urlopen(os.environ["REPRODUCER_PLANS"] + "/plans").read()
name = f"r{random.randrange(10**9)}.{os.environ['REPRODUCER_ZONE']}"
dns.query.udp(dns.message.make_query(name, "A"), host, port=int(port), timeout=30)
