"""The benchmarks of exploration (not part of the API): `python -m reproducer.bench` is `make
bench` (speeds, strategies, proofs, all the cores; `__main__.py`; programs as enactors,
`programs.py`), and `python -m reproducer.bench.measure` (or `python -m reproducer.bench
--strategies`) the runs to the first violation per strategy over many seeds (`measure.py`).
They import search from its face, `reproducer.search`."""
