"""`reproducer play`: a page on 127.0.0.1 where a learner is the scheduler, over real DNS.

- `server.py`: the aiohttp application and its JSON API (`make_app`, `serve`);
- `worlds.py`: each learner's world (its own fake_dns server and enactors) and the guide's
  breadth-first search; `view.py`: what a position looks like, the challenges;
- `second_act.py`: the second act's page (/second-act): the lease fleet's collapse after the
  DNS repair, run by the model in virtual time for the outage, fleet and policy the learner
  chooses;
- `page/`: the pages themselves (HTML, CSS and JavaScript, no build step).
"""

from reproducer.play.server import make_app, serve

__all__ = ["make_app", "serve"]
