"""Commands printed for a person to run: a failure prints something a person can run.

`python -m reproducer ...` only works where that interpreter is the one on PATH, that is with
the virtualenv activated, which `make reproduce` never asks for. So a printed command names
the `reproducer` script of the interpreter that is running: `.venv/bin/reproducer replay
reports/story.replay.json` from the project directory works as shown on a fresh clone.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sysconfig
from pathlib import Path

from reproducer.world.config import Config

__all__ = ["CONFIG_FLAGS", "config_flags", "replay_command", "reproducer_command",
           "shell_command", "trust_flags"]

SCRIPT = "reproducer"


def reproducer_command(cwd: Path | None = None, *, scripts: Path | None = None,
                       search_path: str | None = None) -> str:
    """How to call this installation's `reproducer` from `cwd` (default: the current directory).

    - The script next to this interpreter (in `scripts`, default this interpreter's scripts
      directory), relative to `cwd` when it lies below it (`.venv/bin/reproducer`): what works
      from the project directory, venv activated or not.
    - `reproducer` when that same script is the one PATH (`search_path`, default $PATH) finds,
      or when there is no such script (installed some other way): PATH is all we can go by.
    - Otherwise the script's absolute path.
    """
    here = (cwd or Path.cwd()).resolve()
    folder = scripts if scripts is not None else Path(sysconfig.get_path("scripts"))
    names = [f"{SCRIPT}.exe", SCRIPT] if os.name == "nt" else [SCRIPT]
    script = next((folder / n for n in names if (folder / n).is_file()), None)
    if script is None:
        return SCRIPT
    script = script.resolve()
    if script.is_relative_to(here):
        return os.path.join(os.curdir, script.relative_to(here)) \
            if script.parent == here else str(script.relative_to(here))
    on_path = shutil.which(SCRIPT, path=search_path)
    if on_path is not None and Path(on_path).resolve() == script:
        return SCRIPT
    return str(script)


def shell_command(*args: str | os.PathLike[str], cwd: Path | None = None) -> str:
    """`reproducer_command()` followed by `args`, quoted for a POSIX shell:
    `shell_command("replay", path)` -> ".venv/bin/reproducer replay reports/x.json"."""
    return " ".join([shlex.quote(reproducer_command(cwd)),
                     *(shlex.quote(os.fspath(a)) for a in args)])


def trust_flags(config: Config) -> list[str]:
    """`--enactor NAME` or `--program COMMAND` when `config` names code: what a command that
    reads a replay file of it must say (a file is data: its code is asked for by name)."""
    if config.program is not None:
        return ["--program", config.program]
    if config.enactor is not None:
        return ["--enactor", config.enactor]
    return []


def replay_command(path: str | os.PathLike[str], config: Config) -> str:
    """How to replay the file at `path` that `config` wrote."""
    return shell_command("replay", path, *trust_flags(config))


CONFIG_FLAGS = ("variant", "enactors", "endpoints", "keep_generations", "plans", "max_steps",
                "invariants", "enactor", "program")
"""The fields of `Config` that the command line sets, each as `--field-name` (the CLI reads
them back with the same names)."""


def config_flags(config: Config) -> list[str]:
    """The command-line flags that give `config`: `["--variant", "aws-2025", ...]`, the inverse
    of the CLI's reading of them (`--enactor` and `--program` only when the config names
    one)."""
    flags: list[str] = []
    for name in CONFIG_FLAGS:
        value = getattr(config, name)
        if value is None:
            continue
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        flags += ["--" + name.replace("_", "-"), text]
    return flags
