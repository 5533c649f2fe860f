"""A program that reads the plan store once, then fails."""

import os
import urllib.request

urllib.request.urlopen(os.environ["REPRODUCER_PLANS"] + "/plans").read()
raise RuntimeError("crash.py: the plan store said too much")
