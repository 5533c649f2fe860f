"""A program that reads the plan store once, then waits on something no scheduler holds."""

import os
import time
import urllib.request

urllib.request.urlopen(os.environ["REPRODUCER_PLANS"] + "/plans").read()
time.sleep(3600)
