"""Replay files: a schedule saved as JSON (configuration + variant + choices) that replays the
same trace, step for step, every time.

    {
      "format": "dns-race-reproducer/replay",
      "version": 1,
      "config": {"variant": "aws-2025", "enactors": 3, "endpoints": 1, ...},
      "choices": [0, 1, 0, 0, 2, ...],
      "expected": {"steps": 18, "violation": {"invariant": 1, "step": 18,
                                              "endpoint": "dynamodb"}}
    }

`choices` are indices into the ready workers at each decision where two or more were ready
(0 = the unsurprising move; see `core.py`). Once they run out, every further choice is 0.
`expected` is what the run that wrote the file saw; replaying checks it.

Optional, beside them (same version: a reader that ignores them replays the same run):
- "workers": the schedule by worker name, one per step — what a wild run captures
  (`reproducer wild`). A file may give "workers" without "choices"; the choices are then
  derived by following the names under the scheduler (every named worker must be ready at its
  turn). When both are given, "choices" is what replays.
- "wild": what the wild run recorded beside it (wall times, the server's commits, whether the
  scheduler reproduced it exactly); informative, never read back.
- "requests" (a run of programs, `--program`): each program's requests in order, by enactor,
  as {"digest": 16 hex digits, "request": the request in words}. Replaying checks every
  request a program sends against them: one that differs is named with the file's
  (`reproducer.programs.expecting`).
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reproducer.programs import Request, expecting
from reproducer.running.choices import FollowWorkers, ReplayChoices
from reproducer.running.files import write_atomically
from reproducer.running.simulation import run_memory
from reproducer.running.trace import RunResult
from reproducer.world.config import Config, ConfigError

__all__ = ["FORMAT", "Replay", "ReplayFileError", "load_replay", "program_requests", "run_under",
           "save_replay", "worker_schedule"]

FORMAT = "dns-race-reproducer/replay"
VERSION = 1
MAX_FILE_BYTES = 16 * 1024 * 1024  # a 100,000-step schedule by name is well under 4 MB


class ReplayFileError(ValueError):
    """The file is not a replay file this version can run; the message says why."""


@dataclass(frozen=True, slots=True)
class Replay:
    config: Config
    choices: tuple[int, ...]
    expected: dict[str, Any] | None = None
    workers: tuple[str, ...] | None = None  # the schedule by name, when the file has one
    requests: Mapping[str, tuple[Request, ...]] | None = None  # each program's, by enactor

    def expecting(self) -> AbstractContextManager[None]:
        """Within it, the programs' requests are checked against the file's (none to check:
        nothing happens)."""
        return expecting(self.requests) if self.requests else contextlib.nullcontext()


def program_requests(result: RunResult) -> dict[str, list[Request]]:
    """Each program's requests in `result`, in order, by enactor (the file's "requests")."""
    requests: dict[str, list[Request]] = {name: [] for name in result.config.worker_names[1:]}
    for step in result.steps:
        if step.worker in requests and step.taken is not None:
            requests[step.worker].append(Request.of(step.taken))
    return requests


def _trim(choices: tuple[int, ...]) -> tuple[int, ...]:
    """Trailing zeros are implied (an exhausted replay chooses 0)."""
    end = len(choices)
    while end and choices[end - 1] == 0:
        end -= 1
    return choices[:end]


def replay_json(result: RunResult, *, workers: Sequence[str] | None = None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    v = result.violation
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": result.config.to_json(),
        "choices": list(_trim(result.choices)),
        "expected": {
            "steps": result.length,
            "violation": None if v is None else
            {"invariant": v.invariant, "step": v.step, "endpoint": v.endpoint},
        },
    }
    if workers is not None:
        data["workers"] = list(workers)
    if result.config.program is not None:
        data["requests"] = {name: [{"digest": r.digest, "request": r.text} for r in rs]
                            for name, rs in program_requests(result).items()}
    if extra is not None:
        data["wild"] = extra
    return data


def save_replay(path: Path, result: RunResult, *, workers: Sequence[str] | None = None,
                extra: dict[str, Any] | None = None) -> Path:
    """Write `result`'s schedule; `workers` (the schedule by name) and `extra` (the "wild"
    record) are optional additions (module docstring)."""
    text = json.dumps(replay_json(result, workers=workers, extra=extra), indent=2) + "\n"
    return write_atomically(path, text)  # a replay file is never half-written


def load_replay(path: Path, *, trust_enactor: bool | str | None = False,
                trust_program: str | None = None) -> Replay:
    """Read and check a replay file whole before anything uses it: one `ReplayFileError`
    naming what is wrong. A file is data: one that names a user enactor (Python code that
    replaying would import and run) or a program (a command it would run) is refused unless
    the caller asked for that code: `trust_enactor` True for any (the command line's
    `--trust-file`), or the one enactor it names (`--enactor NAME`); `trust_program` the one
    command it names (`--program COMMAND`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReplayFileError(f"cannot read replay file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ReplayFileError(f"{path} is {len(raw):,} bytes; a replay file is at most "
                              f"{MAX_FILE_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayFileError(f"{path} is not UTF-8 text (byte {exc.start}); a replay file "
                              "is JSON written by `reproducer explore`") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayFileError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}); a replay "
                              "file is written by `reproducer explore`") from None
    except RecursionError:
        raise ReplayFileError(f"{path} is not a replay file: its JSON is nested too "
                              "deeply") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise ReplayFileError(f"{path} is not a replay file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReplayFileError(f"{path} is not a replay file: expected \"format\": \"{FORMAT}\"")
    if data.get("version") != VERSION or isinstance(data.get("version"), bool):
        raise ReplayFileError(f"{path} has replay format version {_shown(data.get('version'))}; "
                              f"this reproducer reads version {VERSION}")
    choices = data.get("choices")
    workers = data.get("workers")
    if workers is not None and (not isinstance(workers, list) or not all(
            isinstance(w, str) for w in workers)):
        raise ReplayFileError(f"{path}: \"workers\" must be a list of worker names, "
                              f"got {_shown(workers)}")
    if choices is None and workers is None:
        raise ReplayFileError(f"{path}: a replay file needs \"choices\" or \"workers\"")
    if choices is not None and (not isinstance(choices, list) or not all(
            _is_count(c) for c in choices)):
        raise ReplayFileError(f"{path}: \"choices\" must be a list of non-negative integers, "
                              f"got {_shown(choices)}")
    config_data = data.get("config")
    if not isinstance(config_data, dict):
        raise ReplayFileError(f"{path}: \"config\" must be an object, got {_shown(config_data)}")
    try:
        config = Config.from_json(config_data)
    except (ConfigError, TypeError) as exc:
        raise ReplayFileError(f"{path}: bad configuration: {exc}") from None
    expected = data.get("expected")
    if expected is not None:
        _check_expected(path, expected)
    for named, trusted, what, flag in (
            (config.enactor, trust_enactor, "the enactor {}, Python code that replaying would "
             "import and run", "--enactor {}"),
            (config.program, trust_program, "the program {!r}, a command that replaying would "
             "run", "--program {}")):
        if named is not None and trust_enactor is not True and trusted != named:
            raise ReplayFileError(f"{path} names {what.format(named)}; if you trust it, say "
                                  f"so: {flag.format(shlex.quote(named))} (or --trust-file)")
    requests = _requests(path, data.get("requests"), config)
    names = tuple(workers) if workers is not None else None
    if choices is None:
        assert names is not None
        with expecting(requests) if requests else contextlib.nullcontext():
            choices = list(_choices_of(path, config, names))
    return Replay(config, tuple(choices), expected, names, requests)


def _requests(path: Path, data: object, config: Config
              ) -> dict[str, tuple[Request, ...]] | None:
    """"requests": {enactor: [{"digest": HEX, "request": TEXT}, ...]} (module docstring)."""
    if data is None:
        return None
    bad = (f"{path}: \"requests\" must map each enactor to a list of "
           "{\"digest\": HEX, \"request\": TEXT}, got ")
    if not isinstance(data, dict):
        raise ReplayFileError(bad + _shown(data))
    out: dict[str, tuple[Request, ...]] = {}
    for name, items in data.items():
        if name not in config.worker_names[1:] or not isinstance(items, list):
            raise ReplayFileError(bad + _shown({name: items}))
        requests = []
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("digest"), str)
                    and isinstance(item.get("request"), str)):
                raise ReplayFileError(bad + _shown(item))
            requests.append(Request(item["digest"], item["request"]))
        out[name] = tuple(requests)
    return out


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _check_expected(path: Path, expected: object) -> None:
    """"expected" is what the writing run saw: {"steps": N, "violation": null or
    {"invariant": N, "step": N, "endpoint": NAME}}."""
    bad = f"{path}: \"expected\" must be {{\"steps\": N, \"violation\": null or {{\"invariant\": "
    bad += "N, \"step\": N, \"endpoint\": NAME}}, got "
    if not isinstance(expected, dict) or not _is_count(expected.get("steps", 0)):
        raise ReplayFileError(bad + _shown(expected))
    violation = expected.get("violation")
    if violation is None:
        return
    if not (isinstance(violation, dict) and _is_count(violation.get("invariant"))
            and _is_count(violation.get("step"))
            and isinstance(violation.get("endpoint"), str | None)):
        raise ReplayFileError(bad + _shown(expected))


def _choices_of(path: Path, config: Config, workers: Sequence[str]) -> tuple[int, ...]:
    """The choices that move `workers` in this order (each must be ready at its turn)."""
    from reproducer.running.simulation import Simulation

    try:
        return tuple(Simulation(config).follow(workers, strict=True).choices)
    except ValueError as exc:
        raise ReplayFileError(f"{path}: \"workers\" is not a schedule of this "
                              f"configuration: {exc}") from None


def run_under(replay: Replay, config: Config, *, path: Path | str = "the replay file"
              ) -> RunResult:
    """The run of `replay` in `config`'s world (in process): its own choices when `config` is
    the file's; otherwise the same interleaving followed by worker name, since in another
    configuration (say --variant cas-guarded) the workers take other steps and a choice index
    would mean another worker. `ReplayFileError` when the file schedules a worker that
    `config` does not have."""
    if config == replay.config:
        with replay.expecting():
            return run_memory(config, ReplayChoices(replay.choices))
    return run_memory(config, FollowWorkers(worker_schedule(replay, config, path=path)))


def worker_schedule(replay: Replay, config: Config, *, path: Path | str = "the replay file"
                    ) -> list[str]:
    """Who moved at each step of `replay`'s run, by name, checked against the workers of
    `config` (`ReplayFileError` naming the missing ones)."""
    with replay.expecting():
        original = run_memory(replay.config, ReplayChoices(replay.choices))
    names = [s.worker for s in original.steps]
    missing = sorted(set(names) - set(config.worker_names))
    if missing:
        raise ReplayFileError(
            f"{path} schedules {', '.join(missing)}, which "
            f"{'does' if len(missing) == 1 else 'do'} not exist in this configuration "
            f"(workers: {', '.join(config.worker_names)}); the file was written with "
            f"--enactors {replay.config.enactors}: replay with at least that many")
    return names
