"""The HTML report: lanes, the violation, the DNS log and the traffic chart.

The report is rendered from real runs (the outage schedule under aws-2025 and the same schedule
under the fix) and a DNS change log recorded from the zone engine, then parsed with
html.parser; the Chromium tests open the file in Debian's headless chromium. A missing
chromium skips those tests on a workstation and fails them under CI (env CI set), where
.ci/run installs it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fake_dns import CommittedUpdate
from fake_dns.testing import require_tool
from fake_lb._traffic import IntervalBook, Outcome, TrafficPlan
from reproducer import Config, MemoryTransport, ReplayChoices, RunResult, run_async, run_memory
from reproducer.telling.report import (
    Figure,
    FigureSection,
    Marker,
    TrafficPoint,
    render_page,
    traffic_points_from,
    write_report,
)

# The outage schedule (AWS's summary, aws.amazon.com/message/101925): enactor-1 checks g2 once
# and is slow, enactor-2 applies g4 and cleans up, enactor-1 flips to the stale g2, the
# clean-up deletes it.
OUTAGE_CHOICES = [0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
OUTAGE = ("aws-2025 (the outage)", Config(variant="aws-2025", enactors=2, invariants=(1, 3)))
FIX = ("cas-guarded (the fix)", Config(variant="cas-guarded", enactors=2, invariants=(1, 3)))
LANES = ["planner", "enactor-1", "enactor-2", "dns"]

# Colours the page paints (reproducer/_report.py's CSS and chart): the banner of a broken run,
# the chart's served and failed lines.
BANNER_BAD = (0xFF, 0xE3, 0xE3)
SERVED_LINE = (0x2F, 0x9E, 0x44)
FAILED_LINE = (0xE0, 0x31, 0x31)


def synthetic_traffic() -> list[TrafficPoint]:
    """20 one-second intervals at 50 requests/s; every request fails in seconds 8..13."""
    return [TrafficPoint(float(t), 0, 50, {"dns-empty-answer": 50}) if 8 <= t < 14
            else TrafficPoint(float(t), 50, 0) for t in range(20)]


MARKERS = [Marker(8.0, "record emptied"), Marker(14.0, "repair"), Marker(14.5, "fix run starts")]


# -- a small DOM over html.parser ---------------------------------------------------------------

VOID = {"meta", "col", "br", "hr", "img", "input", "link", "source", "wbr", "area", "base"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, test: Callable[[Element], bool]) -> list[Element]:
        return [e for e in self.iter() if test(e)]

    def by_id(self, element_id: str) -> Element:
        found = self.find_all(lambda e: e.attrs.get("id") == element_id)
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def with_class(self, *names: str) -> list[Element]:
        return self.find_all(lambda e: set(names) <= e.classes)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"end tag for void element {tag}"
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements: " + \
        ", ".join(e.tag for e in builder.stack[1:])
    return builder.root


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outage() -> RunResult:
    result = run_memory(OUTAGE[1], ReplayChoices(OUTAGE_CHOICES))
    assert result.violation is not None and result.violation.invariant == 1, \
        "premise: the outage schedule empties the regional endpoint"
    return result


@pytest.fixture(scope="module")
def fix() -> RunResult:
    result = run_memory(FIX[1], ReplayChoices(OUTAGE_CHOICES))
    assert result.violations == (), "premise: the fix survives the outage schedule"
    return result


@pytest.fixture(scope="module")
def dns_log() -> list[CommittedUpdate]:
    """The zone engine's committed updates of the outage schedule, run with asyncio tasks."""
    config = OUTAGE[1]
    dns = config.initial_dns()
    log: list[CommittedUpdate] = []
    dns.subscribe(log.append)
    asyncio.run(run_async(config, ReplayChoices(OUTAGE_CHOICES), MemoryTransport(dns)))
    assert log, "premise: the run commits updates"
    return log


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, outage: RunResult, fix: RunResult,
           dns_log: list[CommittedUpdate]) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(
        path, title="The DynamoDB DNS race, replayed",
        runs=[(OUTAGE[0], outage), (FIX[0], fix)], traffic=synthetic_traffic(),
        markers=MARKERS, dns_log=dns_log,
        summary_header=("run", "steps", "first violation"),
        summary_rows=[("aws-2025", str(outage.length), f"step {outage.violation.step}"
                       if outage.violation else "none"), ("cas-guarded", str(fix.length), "none")])


@pytest.fixture(scope="module")
def page(report: Path) -> Element:
    return parse(report.read_text(encoding="utf-8"))


def run_section(page: Element, n: int) -> Element:
    return page.by_id(f"run-{n}")


def step_row(section: Element, index: int) -> Element:
    rows = section.find_all(lambda e: e.tag == "tr" and e.attrs.get("data-step") == str(index))
    assert len(rows) == 1
    return rows[0]


def cell(row: Element, actor: str) -> Element:
    cells = row.find_all(lambda e: e.tag == "td" and e.attrs.get("data-actor") == actor)
    assert len(cells) == 1, f"{len(cells)} cells for {actor} in step {row.attrs['data-step']}"
    return cells[0]


# -- the lanes -----------------------------------------------------------------------------------


def test_every_run_has_a_lane_for_the_planner_each_enactor_and_dns(page: Element) -> None:
    for n in (1, 2):
        lanes = run_section(page, n).with_class("lane")
        assert [lane.attrs["data-actor"] for lane in lanes] == LANES
        assert all(lane.tag == "th" for lane in lanes)


def test_each_step_is_a_row_with_its_text_in_the_lane_of_the_worker_that_took_it(
        page: Element, outage: RunResult, fix: RunResult) -> None:
    for n, run in ((1, outage), (2, fix)):
        section = run_section(page, n)
        assert [int(r.attrs["data-step"]) for r in section.with_class("step")] == \
            [s.index for s in run.steps]
        for step in run.steps:
            row = step_row(section, step.index)
            acted = cell(row, step.worker).text()
            action_words = step.action.split(" ", 1)[-1]
            assert action_words in acted and step.outcome.split(" ")[-1] in acted
            assert step.note in acted
            for other in LANES[:-1]:
                if other != step.worker:
                    assert cell(row, other).text() == ""


def test_update_rows_show_the_rcode_the_server_answered(page: Element, outage: RunResult) -> None:
    updates = [s for s in outage.steps if s.kind == "update"]
    assert updates, "premise: the outage sends UPDATEs"
    section = run_section(page, 1)
    for step in updates:
        rcodes = cell(step_row(section, step.index), step.worker).with_class("rcode")
        assert [r.text() for r in rcodes] == [step.rcode]
        assert rcodes[0].classes & {"ok", "refused"} == \
            ({"ok"} if step.committed else {"refused"})


def test_every_action_is_badged_with_its_kind_and_only_dns_answers_carry_an_rcode(
        page: Element, outage: RunResult) -> None:
    section = run_section(page, 1)
    assert {s.kind for s in outage.steps} == {"query", "update", "store"}
    for step in outage.steps:
        acted = cell(step_row(section, step.index), step.worker)
        [action] = acted.with_class("action")
        assert f"kind-{step.kind}" in action.classes
        assert [r.text() for r in acted.with_class("rcode")] == \
            ([step.rcode] if step.rcode is not None else [])


def test_the_dns_lane_shows_every_endpoint_after_each_step(page: Element,
                                                           outage: RunResult) -> None:
    section = run_section(page, 1)
    first = outage.steps[0]
    text = cell(step_row(section, first.index), "dns").text()
    assert f"dynamodb -> g{first.endpoints[0].generation} (3 addresses)" in text
    emptied = outage.steps[outage.violation.step - 1] if outage.violation else None
    assert emptied is not None and not emptied.endpoints[0].addresses
    dns = cell(step_row(section, emptied.index), "dns")
    assert f"dynamodb -> g{emptied.endpoints[0].generation}: NO ADDRESSES" in dns.text()
    assert {"endpoint", "changed", "empty"} <= dns.with_class("endpoint")[0].classes


# -- the violation -------------------------------------------------------------------------------


def test_the_step_where_the_invariant_broke_is_the_violation_row_and_a_banner_names_it(
        page: Element, outage: RunResult) -> None:
    section = run_section(page, 1)
    violation = outage.violation
    assert violation is not None
    rows = section.find_all(lambda e: e.tag == "tr" and "violation" in e.classes)
    assert [r.attrs["data-step"] for r in rows] == [str(violation.step)]
    assert rows[0].attrs["class"] == "step violation"
    broke = cell(rows[0], "dns").text()
    assert "invariant 1 broke on dynamodb" in broke and "invariant 3 broke on dynamodb" in broke
    banner = section.with_class("banner", "bad")
    assert len(banner) == 1
    assert violation.describe() in banner[0].text()
    assert f"invariant 1 broken at step {violation.step} on dynamodb" in banner[0].text()
    links = banner[0].find_all(lambda e: e.tag == "a")
    assert links[0].attrs["href"] == f"#run-1-step-{violation.step}"
    page.by_id(f"run-1-step-{violation.step}")


def test_the_fix_run_has_no_violation_row_and_says_no_invariant_broke(page: Element,
                                                                     fix: RunResult) -> None:
    section = run_section(page, 2)
    assert section.with_class("violation") == []
    assert section.with_class("banner", "bad") == []
    [banner] = section.with_class("banner", "good")
    assert f"No invariant broke in {fix.length} steps" in banner.text()


def test_a_run_continued_past_the_violation_keeps_the_emptied_endpoint_red(
        tmp_path: Path) -> None:
    stuck = run_memory(Config(variant="aws-2025", enactors=2), ReplayChoices(OUTAGE_CHOICES),
                       stop_at_violation=False)
    first = stuck.violation
    assert first is not None and stuck.length > first.step
    section = run_section(parse(write_report(tmp_path / "r.html", title="stuck",
                                             runs=[("stuck", stuck)]).read_text()), 1)
    rows = section.find_all(lambda e: e.tag == "tr" and "violation" in e.classes)
    assert [r.attrs["data-step"] for r in rows] == \
        [str(s.index) for s in stuck.steps if s.violations]
    emptied = next(s.index for s in stuck.steps if not s.endpoints[0].addresses)
    for step in stuck.steps[emptied - 1:]:
        assert "empty" in cell(step_row(section, step.index), "dns").classes


# -- the chart, the summary and the DNS log ------------------------------------------------------


def test_the_traffic_chart_has_axes_a_legend_both_series_every_interval_and_the_markers(
        page: Element) -> None:
    chart = page.by_id("traffic-chart")
    assert chart.tag == "svg"
    assert {e.attrs["class"].split()[1] for e in chart.with_class("line")} == {"ok", "failed"}
    assert len(chart.with_class("axis")) == 2
    text = chart.text()
    assert "seconds since the traffic started" in text and "requests per second" in text
    assert "served (ok)" in text and "failed" in chart.with_class("legend")[0].text()
    intervals = chart.with_class("interval")
    assert len(intervals) == 20
    assert intervals[8].text() == "8–9 s: 0 served, 50 failed (dns-empty-answer 50)"
    assert intervals[0].text() == "0–1 s: 50 served, 0 failed"
    assert [m.text() for m in chart.with_class("marker")] == [m.label for m in MARKERS]
    totals = page.with_class("totals")[0].text()
    assert "1000 requests: 700 served, 300 failed (dns-empty-answer 300)" in totals


def test_the_failed_line_rises_to_the_top_while_requests_fail(page: Element) -> None:
    """The line's y coordinates: 50/s is the top of the plot, 0/s its bottom."""
    chart = page.by_id("traffic-chart")
    plot = chart.with_class("plot")[0]
    top, bottom = float(plot.attrs["y"]), float(plot.attrs["y"]) + float(plot.attrs["height"])

    def ys(series: str) -> set[float]:
        path = chart.with_class("line", series)[0].attrs["d"]
        return {float(point.split(",")[1]) for point in path[1:].replace("M", "L").split("L")}

    assert ys("ok") == {top, bottom} and ys("failed") == {top, bottom}


def test_a_report_without_traffic_has_no_chart(tmp_path: Path, fix: RunResult) -> None:
    page = parse(write_report(tmp_path / "r.html", title="t", runs=[("fix", fix)]).read_text())
    assert page.find_all(lambda e: e.tag == "svg") == []
    assert page.with_class("summary") == [] and page.with_class("dnslog") == []


def test_the_summary_table_has_the_header_and_rows_given(page: Element,
                                                        outage: RunResult) -> None:
    [table] = page.with_class("summary")
    cells = [[c.text() for c in row.find_all(lambda e: e.tag in ("th", "td"))]
             for row in table.find_all(lambda e: e.tag == "tr")]
    assert cells[0] == ["run", "steps", "first violation"]
    assert cells[1] == ["aws-2025", str(outage.length), f"step {outage.violation.step}"
                        if outage.violation else "none"]


def test_the_dns_change_log_lists_every_committed_update_with_who_signed_it(
        page: Element, dns_log: list[CommittedUpdate]) -> None:
    [section] = page.with_class("dnslog")
    rows = section.find_all(lambda e: e.tag == "tr")[1:]
    assert len(rows) == len(dns_log)
    for row, update in zip(rows, dns_log, strict=True):
        serial, signer, changes = (c for c in row.children if isinstance(c, Element))
        assert serial.text() == str(update.serial)
        assert signer.text() == (update.key_name or "").rstrip(".")
        assert len(changes.with_class("change")) == len(update.changes)
    deletes = [li.text() for li in section.with_class("change", "delete-rrset")]
    assert any(text.endswith(" A") and text.startswith("delete-rrset g0002.") for text in deletes)


SQUARE = ('<svg xmlns="http://www.w3.org/2000/svg" id="square" viewBox="0 0 10 10">'
          '<rect width="10" height="10" fill="#2f9e44"/></svg>')


def test_sections_of_pictures_follow_the_runs_with_their_table_and_are_in_the_contents(
        tmp_path: Path, fix: RunResult) -> None:
    section = FigureSection("The second act", "second-act", ("Once DNS was back...",),
                            (Figure("a square", SQUARE, "green"),), ("policy", "recovered"),
                            (("admission", "yes"),))
    page = parse(write_report(tmp_path / "r.html", title="t", runs=[("fix", fix)],
                              sections=[section]).read_text())

    body = [e for e in page.find_all(lambda e: e.tag == "body")[0].children
            if isinstance(e, Element)]
    assert [e.attrs.get("id") for e in body][-2:] == ["run-1", "second-act"]
    figures = page.by_id("second-act")
    assert figures.find_all(lambda e: e.tag == "figcaption")[0].text() == "a squaregreen"
    assert figures.by_id("square").tag == "svg"
    assert [c.text() for c in figures.find_all(lambda e: e.tag == "td")] == ["admission", "yes"]
    links = [e.attrs["href"] for e in page.find_all(lambda e: e.tag == "a")]
    assert links == ["#run-1", "#second-act"]


def test_a_page_of_pictures_alone_escapes_its_text_and_keeps_the_pictures_as_drawn() -> None:
    evil = '<script>alert("x")</script>&'
    page = parse(render_page(title=evil, intro=(evil,), sections=[
        FigureSection(evil, "maps", (evil,), (Figure(evil, SQUARE, evil),))]))

    assert page.find_all(lambda e: e.tag == "script") == []
    assert page.find_all(lambda e: e.tag == "title")[0].text() == evil
    assert page.by_id("maps").text().count(evil) == 4
    assert page.by_id("square").find_all(lambda e: e.tag == "rect")


# -- safety: escaping, no network ----------------------------------------------------------------


def test_text_from_labels_titles_markers_and_summaries_is_escaped(tmp_path: Path,
                                                                  fix: RunResult) -> None:
    evil = '<script>alert("x")</script>&'
    path = write_report(tmp_path / "r.html", title=evil, runs=[(evil, fix)],
                        traffic=[TrafficPoint(0.0, 1, 1, {evil: 1})], markers=[Marker(0.5, evil)],
                        summary_header=(evil,), summary_rows=[(evil,)])
    page = parse(path.read_text())
    assert page.find_all(lambda e: e.tag == "script") == []
    texts = [page.find_all(lambda e: e.tag == "title")[0].text(),
             page.by_id("run-1").find_all(lambda e: e.tag == "h2")[0].text(),
             page.with_class("marker")[0].text(), page.with_class("summary")[0].text(),
             page.with_class("interval")[0].text()]
    assert all(evil in t for t in texts)


def test_the_page_fetches_nothing_and_runs_no_script(report: Path, page: Element) -> None:
    source = report.read_text()
    assert page.find_all(lambda e: e.tag in ("script", "link", "img", "iframe", "object")) == []
    assert all(e.attrs["href"].startswith("#") for e in page.find_all(lambda e: "href" in e.attrs))
    assert page.find_all(lambda e: "src" in e.attrs) == []
    assert "url(" not in source and "@import" not in source


# -- the traffic values ---------------------------------------------------------------------------


def test_traffic_points_from_the_load_generators_intervals_keep_counts_and_reasons() -> None:
    plan = TrafficPlan(rate_per_s=4, duration_s=2, interval_s=0.5)
    book = IntervalBook(plan)
    intervals = []
    for i in range(plan.total_requests):
        ok = i not in (5, 6, 7)
        intervals += book.record(i, Outcome(ok, None if ok else ("timeout" if i == 7 else
                                                                 "dns-empty-answer"), 0.01))
    points = traffic_points_from(intervals)
    assert points == (
        TrafficPoint(0.0, 2, 0, {}, 0.5), TrafficPoint(0.5, 2, 0, {}, 0.5),
        TrafficPoint(1.0, 1, 1, {"dns-empty-answer": 1}, 0.5),
        TrafficPoint(1.5, 0, 2, {"dns-empty-answer": 1, "timeout": 1}, 0.5))
    assert points[3].failed_per_s == 4.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"t_s": 0.0, "ok": -1, "failed": 0}, "count 'ok' is -1"),
    ({"t_s": 0.0, "ok": 0, "failed": 1, "failures_by_reason": {"timeout": -1}},
     "count 'timeout' is -1"),
    ({"t_s": float("nan"), "ok": 0, "failed": 0}, "t_s must be a finite number"),
    ({"t_s": 0.0, "ok": 0, "failed": 0, "interval_s": 0.0}, "interval_s must be a positive"),
])
def test_a_traffic_point_that_cannot_be_plotted_is_refused_naming_the_value(
        kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficPoint(**kwargs)


def test_writing_a_report_logs_the_path_and_does_not_print(
        tmp_path: Path, fix: RunResult, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.INFO, logger="reproducer.telling.report"):
        path = write_report(tmp_path / "r.html", title="t", runs=[("fix", fix)])
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == \
        [f"wrote the report {path}"]
    assert capsys.readouterr() == ("", "")


# -- in a real browser ----------------------------------------------------------------------------


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [require_tool("chromium", "chromium"), "--headless", "--no-sandbox", "--disable-gpu",
               f"--user-data-dir={profile}", "--no-first-run", *args]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]!r}"
    return done


def read_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of pixel bytes, bytes per pixel) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    rows, prev = [], bytes(stride)
    for y in range(height):  # undo the row filters (PNG spec §9)
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 2:  # Up: bytewise addition of the row above, done as one big integer
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            line = bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        elif kind:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up, corner = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if kind == 1:
                    line[i] = (line[i] + left) & 255
                elif kind == 3:
                    line[i] = (line[i] + ((left + up) >> 1)) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    line[i] = (line[i] + (left if pa <= pb and pa <= pc else
                                          up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prev = rows[-1]
    return width, height, rows, bpp


def test_headless_chromium_paints_the_report_with_its_banner_and_chart(report: Path,
                                                                      tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2000", report.as_uri())
    width, height, rows, bpp = read_png(shot.read_bytes())
    assert (width, height) == (1400, 2000)
    colours: Counter[bytes] = Counter()
    for row in rows:
        colours.update(row[i:i + 3] for i in range(0, len(row), bpp))
    assert len(colours) > 50, "a page of text, a chart and coloured lanes has many colours"
    assert colours[bytes(BANNER_BAD)] > 20_000, "the broken run's red banner is painted"
    assert colours[bytes(SERVED_LINE)] > 1_000, "the chart's served line is painted"
    assert colours[bytes(FAILED_LINE)] > 1_000, "the chart's failed line is painted"


def test_chromium_builds_a_dom_with_the_lanes_the_violation_row_and_the_chart(
        report: Path, tmp_path: Path, outage: RunResult) -> None:
    dom = parse(chromium(tmp_path, "--dump-dom", report.as_uri()).stdout.decode())
    assert [lane.attrs["data-actor"] for lane in dom.by_id("run-1").with_class("lane")] == LANES
    violation = outage.violation
    assert violation is not None
    assert dom.by_id(f"run-1-step-{violation.step}").attrs["class"] == "step violation"
    assert dom.by_id("traffic-chart").tag == "svg"
    assert len(dom.by_id("traffic-chart").with_class("interval")) == 20
