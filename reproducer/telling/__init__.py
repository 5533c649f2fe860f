"""Telling what happened: to a terminal, a web page, a learner.

- `narrate.py`: one line per step, the trace as JSON;
- `report.py` (+ `report_chart.py`): the self-contained HTML report of runs;
- `story.py` (+ `story_stage.py`): `make reproduce`, the outage live on real processes;
- `play*.py` and `play_page.*`: `reproducer play`, a page where a learner is the scheduler.
"""
