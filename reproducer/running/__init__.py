"""Running a world: the one scheduling core and the runners around it.

- `core.py`: the scheduling core (ready order, choice, store calls, a worker's move, the
  invariant step, the step record), with no I/O;
- `simulation.py`: the core with in-process effects and its memo (what exploration uses);
- `runtime.py`: the core with DNS awaited over a transport (`AsyncRun`, `run_async`);
- `transport.py`: TSIG-signed UDP to a fake_dns server; `http_health.py`: backends' /healthz;
- `choices.py`: where scheduling decisions come from; `trace.py`: what a run leaves;
  `replay.py`: replay files.
"""
