"""The play server: a page where the learner is the scheduler, over real DNS
(`reproducer play`; its flags are in `reproducer.cli.play`).

The page (`page/`: index.html, play.css, play.js, with common.js, what the pages share; no build
step, nothing from outside) talks to a small JSON API. Every world is a learner's own
(`reproducer.play.worlds`); what a position looks like is decided in `reproducer.play.view`.
Errors are JSON, `{"error": "..."}`, with a 4xx status when the request was wrong (nothing
changed then) and 5xx when the server was.

    GET  /api/challenges                   the challenges, in order, and the free world
    GET  /api/challenges/{id}/proof        breadth-first search from the start: the minimum,
                                           or the exhaustive proof that there is none
    POST /api/worlds   {challenge, position}        a new world at that position
    GET  /api/worlds/{id}                           the position now
    POST /api/worlds/{id}/move  {worker, at}        one move (409 if the page was at another)
    POST /api/worlds/{id}/undo  {at}                the position minus its last move
    POST /api/worlds/{id}/reset                     back to the start
    POST /api/worlds/{id}/goto  {position}          any position of the same world
    GET  /api/worlds/{id}/guide                     how far the violation is from here
    GET  /api/worlds/{id}/replay                    a replay file for `reproducer replay`
    POST /api/worlds/{id}/close                     the page is leaving

The second act's page (/second-act: the lease fleet's collapse after the DNS repair, driven by
the model in virtual time) has its own API, described in `reproducer.play.second_act`:

    GET  /api/second-act                            the policies, the bounds, the constants
    POST /api/second-act/run  {policy, hosts, outage_s}   one run of the model
    GET  /api/second-act/boundary/{policy}          a policy's map: outage x fleet size
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from fake_dns import DNSClientError
from reproducer.play.second_act import boundary_json, run_json, scenario_from, setup_json
from reproducer.play.view import CHALLENGES, FREE, describe_world, guide_json, proof_json
from reproducer.play.worlds import Guide, PlayError, World, Worlds
from reproducer.running.choices import ReplayChoices
from reproducer.running.core import EnactorError
from reproducer.running.replay import replay_json
from reproducer.running.simulation import Simulation
from reproducer.world.config import Config

__all__ = ["make_app", "serve"]

log = logging.getLogger(__name__)

WORLDS: web.AppKey[Worlds] = web.AppKey("worlds", Worlds)
GUIDE: web.AppKey[Guide] = web.AppKey("guide", Guide)
FREE_CONFIG: web.AppKey[Config] = web.AppKey("free_config", Config)
MODEL_RUNS: web.AppKey[asyncio.Semaphore] = web.AppKey("model_runs", asyncio.Semaphore)
MODEL_RUNS_AT_ONCE = 2  # the second act's model runs (CPU work, off the event loop)
_PAGE_FILES = {"/": ("index.html", "text/html"),
               "/play.css": ("play.css", "text/css"),
               "/play.js": ("play.js", "text/javascript"),
               "/common.js": ("common.js", "text/javascript"),
               "/second-act": ("second-act.html", "text/html"),
               "/second-act.css": ("second-act.css", "text/css"),
               "/second-act.js": ("second-act.js", "text/javascript")}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure is one JSON sentence, never a traceback."""
    try:
        return await handler(request)
    except PlayError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    except EnactorError as exc:
        return web.json_response({"error": f"the enactor's code broke its contract: {exc}"},
                                 status=422)
    except DNSClientError as exc:
        log.warning("a world's DNS server did not answer: %s", exc)
        return web.json_response({"error": f"this world's DNS server did not answer ({exc}); "
                                           "reload the page"}, status=502)
    except web.HTTPException:
        raise
    except Exception as exc:  # our own bug: the page gets a sentence, the log the traceback
        log.exception("the play server failed on %s %s", request.method, request.path)
        return web.json_response({"error": f"the play server failed ({type(exc).__name__}: "
                                           f"{exc}); this is a bug: its log has the details"},
                                 status=500)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@web.middleware
async def _same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only this machine's pages may talk to the server (as local development servers do): the
    Host must name a loopback address and this port — a DNS-rebound name does not — and a
    request that says where it comes from (`Origin`, which browsers send with every
    cross-site POST) must come from this server's own origin."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    allowed = {f"{host}:{port}" for host in LOCAL_HOSTS}
    host = request.headers.get("Host")
    if host is not None and host not in allowed:  # (a browser always sends one)
        return web.json_response({"error": f"this server answers to http://127.0.0.1:{port}/ "
                                           f"only, not to the host {host[:100]!r}"},
                                 status=403)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{a}" for a in allowed}:
        return web.json_response({"error": f"requests from other sites ({origin[:100]}) are "
                                           "refused: open the page from this server"},
                                 status=403)
    return await handler(request)


async def _body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object: a body that is not one is a 400 with a sentence, whatever
    it holds (bytes that are not UTF-8, nesting past any use, integers of thousands of
    digits); a body of another content type (a cross-site form's text/plain) is a 415."""
    if not request.can_read_body:
        return {}
    if request.content_type != "application/json":
        raise PlayError(415, f"the request body must be application/json, not "
                             f"{request.content_type[:60]}")
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlayError(400, f"the request body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PlayError(400, f"the request body is not JSON ({exc.msg})") from None
    except RecursionError:
        raise PlayError(400, "the request body is JSON nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise PlayError(400, f"the request body is not usable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PlayError(400, f"the request body must be a JSON object, got {_shown(data)}")
    return data


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _position(data: dict[str, Any]) -> list[str]:
    position = data.get("position", [])
    if not isinstance(position, list) or not all(isinstance(w, str) for w in position):
        raise PlayError(400, f"\"position\" must be a list of worker names, got {_shown(position)}")
    return position


def _at(data: dict[str, Any]) -> int:
    at = data.get("at")
    if not isinstance(at, int) or isinstance(at, bool) or at < 0:
        raise PlayError(400, f"\"at\" must be the number of moves the page has seen, got "
                             f"{_shown(at)}")
    return at


async def _view(world: World) -> web.Response:
    lock = await world.lock_record()
    return web.json_response(describe_world(world.run, world=world.id, challenge=world.challenge,
                                            dns=world.dns_address, lock=lock))


def _world(request: web.Request) -> World:
    return request.app[WORLDS].get(request.match_info["world"])


async def page_file(request: web.Request) -> web.Response:
    name, content_type = _PAGE_FILES[request.path]
    text = resources.files("reproducer.play").joinpath("page", name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type=content_type,
                        headers={"Cache-Control": "no-store"})


async def challenges(request: web.Request) -> web.Response:
    free = request.app[FREE_CONFIG]
    return web.json_response({
        "free": {"id": FREE, "title": f"Free play: {free.label}", "kind": "free",
                 "variant": free.label, "config": free.to_json(),
                 "goal": "The world the command line configured: schedule as you like."},
        "challenges": [c.to_json() for c in CHALLENGES]})


async def proof(request: web.Request) -> web.Response:
    config = request.app[WORLDS].config_of(request.match_info["challenge"])
    helper = request.app[GUIDE]  # asked once per challenge: it may search ten times further
    search = await helper.search(config, [], max_states=10 * helper.max_states,
                                 abandoned=_gone(request))
    return web.json_response(proof_json(config, search))


async def create_world(request: web.Request) -> web.Response:
    data = await _body(request)
    challenge = data.get("challenge", FREE)
    if not isinstance(challenge, str):
        raise PlayError(400, f"\"challenge\" must be a challenge id, got {_shown(challenge)}")
    world = await request.app[WORLDS].create(challenge, _position(data))
    return await _view(world)


async def show_world(request: web.Request) -> web.Response:
    world = _world(request)
    async with world.lock:
        return await _view(world)


async def move(request: web.Request) -> web.Response:
    world = _world(request)
    data = await _body(request)
    worker = data.get("worker")
    if not isinstance(worker, str):
        raise PlayError(400, f"\"worker\" must be a worker's name, got {_shown(worker)}")
    async with world.lock:
        await world.move(worker, _at(data))
        return await _view(world)


async def undo(request: web.Request) -> web.Response:
    world = _world(request)
    at = _at(await _body(request))
    async with world.lock:
        position = world.run.schedule()
        if at != len(position):
            raise PlayError(409, f"stale position: this world is at move {len(position)}, your "
                                 f"page was at move {at}. Reload the page; nothing was changed.")
        if not position:
            raise PlayError(400, "nothing to undo: no worker has moved yet")
        await world.goto(position[:-1])
        return await _view(world)


async def reset(request: web.Request) -> web.Response:
    world = _world(request)
    async with world.lock:
        await world.goto([])
        return await _view(world)


async def goto(request: web.Request) -> web.Response:
    world = _world(request)
    position = _position(await _body(request))
    async with world.lock:
        await world.goto(position)
        return await _view(world)


async def guide(request: web.Request) -> web.Response:
    world = _world(request)
    async with world.lock:  # the position asked about, not one a move makes meanwhile
        run = world.run
        position, violations = run.schedule(), tuple(run.violations)
        over = run.finished or run.length >= world.config.max_steps
    helper = request.app[GUIDE]
    search = None if violations or over else await helper.search(
        world.config, position, abandoned=_gone(request))
    return web.json_response(guide_json(world.config, position, search, violations, over,
                                        helper.max_states))


async def replay_file(request: web.Request) -> web.Response:
    """The moves made so far as choices; where the position stops short of the end, the
    replay goes on with the unsurprising choice 0, and stops at the first violation (what
    `reproducer replay` does), so its `expected` is that run's."""
    world = _world(request)
    async with world.lock:
        config, choices = world.config, tuple(world.run.choices)
    result = Simulation(config, cache="none").run(ReplayChoices(choices))  # see check_position
    name = f"play-{world.challenge}-{world.run.length}-moves.json"
    return web.json_response(replay_json(result), dumps=lambda d: json.dumps(d, indent=2),
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def second_act_setup(request: web.Request) -> web.Response:
    return web.json_response(setup_json())


async def second_act_run(request: web.Request) -> web.Response:
    scenario = scenario_from(await _body(request))  # checked whole before anything runs
    async with request.app[MODEL_RUNS]:
        return web.json_response(await asyncio.to_thread(run_json, scenario))


async def second_act_boundary(request: web.Request) -> web.Response:
    async with request.app[MODEL_RUNS]:
        return web.json_response(await asyncio.to_thread(boundary_json,
                                                         request.match_info["policy"]))


async def close_world(request: web.Request) -> web.Response:
    await request.app[WORLDS].close(request.match_info["world"])
    return web.Response(status=204)


def make_app(free: Config, *, max_worlds: int = 32, idle_s: float = 900.0,
             guide_states: int = 200_000, worlds: Worlds | None = None) -> web.Application:
    """The play server's application. `worlds`, when given, is used as is (tests inject one
    with their own clock); otherwise one is made from the challenges and `free`."""
    app = web.Application(middlewares=[_same_origin, _errors], client_max_size=256 * 1024)
    app[FREE_CONFIG] = free
    if worlds is None:
        worlds = Worlds({FREE: free, **{c.id: c.config for c in CHALLENGES}},
                        max_worlds=max_worlds, idle_s=idle_s)
    app[WORLDS] = worlds
    app[GUIDE] = Guide(max_states=guide_states)
    app[MODEL_RUNS] = asyncio.Semaphore(MODEL_RUNS_AT_ONCE)
    app.on_shutdown.append(_stop_guide)
    app.cleanup_ctx.append(_expiry)
    for path in _PAGE_FILES:
        app.router.add_get(path, page_file)
    app.router.add_get("/api/challenges", challenges)
    app.router.add_get("/api/challenges/{challenge}/proof", proof)
    app.router.add_post("/api/worlds", create_world)
    app.router.add_get("/api/worlds/{world}", show_world)
    app.router.add_post("/api/worlds/{world}/move", move)
    app.router.add_post("/api/worlds/{world}/undo", undo)
    app.router.add_post("/api/worlds/{world}/reset", reset)
    app.router.add_post("/api/worlds/{world}/goto", goto)
    app.router.add_get("/api/worlds/{world}/guide", guide)
    app.router.add_get("/api/worlds/{world}/replay", replay_file)
    app.router.add_post("/api/worlds/{world}/close", close_world)
    app.router.add_get("/api/second-act", second_act_setup)
    app.router.add_post("/api/second-act/run", second_act_run)
    app.router.add_get("/api/second-act/boundary/{policy}", second_act_boundary)
    return app


def _gone(request: web.Request) -> Callable[[], bool]:
    """Whether the page that asked has gone (its connection closed): its search is unwanted."""
    return lambda: request.transport is None or request.transport.is_closing()


async def _stop_guide(app: web.Application) -> None:
    app[GUIDE].close()  # the server is stopping: searches nobody will read are given up


async def _expiry(app: web.Application) -> AsyncIterator[None]:
    """Idle worlds are closed by a sweep every quarter of the idle time (at most a minute);
    every world is closed when the server stops."""
    worlds = app[WORLDS]

    async def sweep() -> None:
        while True:
            await asyncio.sleep(min(worlds.idle_s / 4, 60.0))
            await worlds.expire()

    task = asyncio.create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worlds.close_all()


async def serve(app: web.Application, port: int, ready: Callable[[str], None]) -> None:
    """Serve `app` on 127.0.0.1:`port` until cancelled; `ready` gets the URL once bound."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        ready(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
