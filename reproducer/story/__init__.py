"""The story `make reproduce` tells: the whole outage, live, on real processes.

- `acts.py`: the acts (baseline, the search, the outage replayed live, the manual repair, the
  fix) and the closing summary and report; `tell_story(out_dir, report)` tells it;
- `stage.py`: the stage they play on: fake-dns, the backends and load balancers as processes,
  steady traffic through them, and the checks of what each act must show.
"""

from reproducer.story.acts import tell_story
from reproducer.story.stage import StoryFailed

__all__ = ["StoryFailed", "tell_story"]
