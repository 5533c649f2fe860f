"""Where a command writes its files: a place that cannot be written is one line and exit status
2 before anything runs, and nothing is left behind; a write that fails half-way leaves no
temporary file and no half-written file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reproducer.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    lines: list[str] = []
    try:
        code = main(argv, report=lines.append)
    except SystemExit as exc:  # argparse's errors
        code = int(exc.code or 0)
    return code, lines, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["explore", "--strategy", "random", "--out", "{dir}"],
     "argument --out: {dir} is a folder; give a file name, e.g. {dir}/out.json"),
    (["run", "--transport", "memory", "--trace", "{dir}"],
     "argument --trace: {dir} is a folder; give a file name, e.g. {dir}/out.json"),
    (["run", "--transport", "memory", "--report", "{file}/run.html"],
     "argument --report: cannot write {file}/run.html: {file} is a file, not a folder"),
    (["run", "--transport", "memory", "--save", "{file}/deeper/x.json"],
     "argument --save: cannot write {file}/deeper/x.json: {file} is a file, not a folder"),
    (["run", "--transport", "memory", "--save", "/proc/reproducer/x.json"],
     "argument --save: cannot write /proc/reproducer/x.json: cannot create files in /proc"),
    (["wild", "--out", "{dir}"],
     "argument --out: {dir} is a folder; give a file name, e.g. {dir}/out.json"),
    (["story", "--out", "{file}"],
     "argument --out: {file} is a file, not a folder; give a folder (it is created if missing)"),
])
def test_an_output_that_cannot_be_written_is_one_line_before_anything_runs_and_leaves_nothing(
        argv: list[str], message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder, file = tmp_path / "reports", tmp_path / "a-file"
    folder.mkdir()
    file.write_text("")
    argv = [a.format(dir=folder, file=file) for a in argv]
    code, lines, err = run(argv, capsys)
    assert code == 2 and lines == []
    assert err.startswith("reproducer: error: " + message.format(dir=folder, file=file))
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a-file", "reports"]


@pytest.mark.parametrize("flag", ["--invariants", "--choices"])
@pytest.mark.parametrize("text", ["1,,2", ",1", "1,"])
def test_a_list_with_an_empty_item_is_refused(flag: str, text: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "--transport", "memory", flag, text], capsys)
    assert code == 2
    assert f"argument {flag}: {text!r}: an empty item" in err


def test_a_write_that_fails_half_way_leaves_neither_a_temporary_nor_a_half_file(
        tmp_path: Path) -> None:
    # A file-size limit stands in for a full disk: the write fails with EFBIG part-way.
    program = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from reproducer.running.files import OutputError, write_atomically\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_atomically(Path(sys.argv[1]), 'x' * 100_000)\n"
        "except OutputError as exc:\n"
        "    print(exc)\n")
    target = tmp_path / "out" / "replay.json"
    done = subprocess.run([sys.executable, "-c", program, str(target)], capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.startswith(f"cannot write {target}: File too large")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(("text", "message"), [
    ("redis:/127.0.0.1:6390", "redis:/127.0.0.1:6390: a Redis URL needs two slashes"),
    ("redis:127.0.0.1:6390", "redis:127.0.0.1:6390: a Redis URL needs two slashes"),
    ("{file}/db", "cannot write {file}/db: {file} is a file, not a folder; the example database "
                  "is a folder"),
    ("/proc/reproducer-db", "cannot write /proc/reproducer-db: cannot create files in /proc"),
])
def test_a_database_that_cannot_be_kept_is_refused_and_no_folder_is_made(
        text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    code, _, err = run(["explore", "--database", text.format(file="a-file")], capsys)
    assert code == 2
    assert f"argument --database: {message.format(file='a-file')}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
