"""Telling what happened: to a terminal and as a web page.

- `narrate.py`: one line per step, the trace as JSON;
- `report.py` (+ `report_chart.py`): the self-contained HTML report of runs.

The applications that tell the story live beside this package: `reproducer.story` (`make
reproduce`), `reproducer.play` (a page where a learner is the scheduler) and `reproducer.wild`.
"""
