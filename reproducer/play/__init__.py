"""`reproducer play`: a page on 127.0.0.1 where a learner is the scheduler, over real DNS.

- `server.py`: the aiohttp application and its JSON API (`make_app`, `serve`);
- `worlds.py`: each learner's world (its own fake_dns server and enactors) and the guide's
  breadth-first search; `view.py`: what a position looks like, the challenges;
- `page/`: the page itself (HTML, CSS and JavaScript, no build step).
"""

from reproducer.play.server import make_app, serve

__all__ = ["make_app", "serve"]
