"""The self-contained HTML report of a run: one lane per actor, the DNS state, the traffic chart
(drawn by `report_chart`).

Theory of operation
-------------------
- `render_report` is a pure function from values (runs, traffic, markers, the DNS change log, a
  summary table) to one HTML string; `write_report` is the thin adapter that writes it to a file.
- Rule 1 (self-contained: no network needed to open it): inline CSS and an inline SVG
  chart; no script, no font, image or stylesheet fetched from anywhere; the only links are
  anchors within the page.
- Rule 2 (escaped): every piece of text that comes from a run, a label or a marker goes through
  `html.escape` before it reaches the page.
- Rule 3 (lanes): a run is a table with one column ("lane") per actor — the planner, each
  enactor — and one for DNS. Row k is step k: the scheduler let exactly one worker take one
  action, so exactly one actor cell is filled (the action, its result or rcode, the worker's
  note); the DNS cell shows what a client resolving each endpoint gets after the step.
- Rule 4 (violations): a step's violations are the invariants that broke at that step (the
  checker reports a break once, when it happens). Its row is `class="step violation"` and says
  which invariant broke, on which endpoint and why. A run continued past the violation shows
  the stuck state in the DNS lane: every endpoint answering without an address stays red.
- Rule 5 (structure, not prose): a cell's badge is the step's `kind`, its rcode the step's
  `rcode`; an endpoint is written by `EndpointState.describe`, the one formatter of it.
- Stable hooks for tests and readers: `class="lane"` with `data-actor` on each lane's header,
  `data-actor` on every cell, `id="run-N-step-K"` on rows, `id="traffic-chart"` on the SVG.
- Sections of pictures (`FigureSection`, drawn by `report_figures`) follow the runs, as the
  story's second act does; `render_page` is a page of such sections alone.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from fake_dns import CommittedUpdate
from reproducer.running.files import write_atomically
from reproducer.running.trace import RunResult, Step
from reproducer.telling.narrate import answers_no_address
from reproducer.telling.report_chart import (
    CHART_CSS,
    IntervalRecord,
    Marker,
    TrafficPoint,
    traffic_points_from,
    traffic_section,
)
from reproducer.telling.report_figures import (
    FIGURES_CSS,
    Figure,
    FigureSection,
    figure_section,
)
from reproducer.world.values import EndpointState, Layout
from reproducer.world.variants import VARIANTS

__all__ = ["DNS_LANE", "Figure", "FigureSection", "IntervalRecord", "Marker", "TrafficPoint",
           "render_page", "render_report", "traffic_points_from", "write_page", "write_report"]

log = logging.getLogger(__name__)

DNS_LANE = "dns"


# -- the page ----------------------------------------------------------------------------------


def write_report(path: Path, *, title: str, runs: Sequence[tuple[str, RunResult]],
                 traffic: Sequence[TrafficPoint] = (), markers: Sequence[Marker] = (),
                 dns_log: Sequence[CommittedUpdate] = (),
                 summary_rows: Sequence[tuple[str, ...]] = (),
                 summary_header: tuple[str, ...] = (),
                 sections: Sequence[FigureSection] = ()) -> Path:
    """Write the report of `runs` (each with its label) to `path`; returns `path`."""
    page = render_report(title=title, runs=runs, traffic=traffic, markers=markers,
                         dns_log=dns_log, summary_rows=summary_rows,
                         summary_header=summary_header, sections=sections)
    write_atomically(path, page)
    log.info("wrote the report %s (%d runs, %d traffic intervals, %d bytes)",
             path, len(runs), len(traffic), len(page.encode()))
    return path


def render_report(*, title: str, runs: Sequence[tuple[str, RunResult]],
                  traffic: Sequence[TrafficPoint] = (), markers: Sequence[Marker] = (),
                  dns_log: Sequence[CommittedUpdate] = (),
                  summary_rows: Sequence[tuple[str, ...]] = (),
                  summary_header: tuple[str, ...] = (),
                  sections: Sequence[FigureSection] = ()) -> str:
    """The report as one self-contained HTML document."""
    parts = [_head(title),
             f"<header><h1>{_e(title)}</h1>{_INTRO}{_contents(runs, sections)}</header>"]
    if summary_rows or summary_header:
        parts.append(_summary(summary_header, summary_rows))
    if traffic:
        parts.append(traffic_section(traffic, markers))
    parts.extend(_run_section(n, label, run) for n, (label, run) in enumerate(runs, 1))
    if dns_log:
        lock_names = {run.config.layout.lock_name for _, run in runs} or {Layout().lock_name}
        parts.append(_dns_log_section(dns_log, lock_names))
    parts.extend(figure_section(section) for section in sections)
    parts.append("</body></html>\n")
    return "".join(parts)


def render_page(*, title: str, intro: Sequence[str], sections: Sequence[FigureSection]) -> str:
    """A self-contained page of picture sections alone, with the report's look."""
    lede = "".join(f'<p class="lede">{_e(p)}</p>' for p in intro)
    return "".join([_head(title), f"<header><h1>{_e(title)}</h1>{lede}</header>",
                    *(figure_section(section) for section in sections), "</body></html>\n"])


def write_page(path: Path, *, title: str, intro: Sequence[str],
               sections: Sequence[FigureSection]) -> Path:
    """Write `render_page`'s page to `path` whole; returns `path`."""
    write_atomically(path, render_page(title=title, intro=intro, sections=sections))
    return path


def _head(title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}{CHART_CSS}{FIGURES_CSS}</style></head>"
            "<body>")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_INTRO = """
<p class="lede">On 20 October 2025, DynamoDB's regional endpoint in us-east-1 suddenly resolved
to <em>no address at all</em>. Two automated workers that write DNS raced each other: a slow one
applied an old plan over a newer one, and a fast one then deleted that old plan as garbage,
while it was the active one. This page replays such a race step by step.</p>
<div class="howto"><h2>How to read the lanes</h2><ul>
<li><b>planner</b> writes numbered plans (g2, g3, …): which load-balancer addresses each
endpoint should resolve to.</li>
<li>Each <b>enactor</b> picks up the newest plan it sees, writes it into DNS as a new record
tree <code>gN</code>, flips the endpoint's alias to that tree with an RFC 2136 UPDATE, and later
cleans up old trees. The DNS server answers every UPDATE with an <i>rcode</i>: NOERROR means it
was applied; anything else means it was refused and changed nothing.</li>
<li><b>DNS</b> shows what a client resolving each endpoint gets <em>after</em> the step:
the plan its alias points at and how many addresses come back. A changed endpoint is bold.</li>
<li>One row is one step: the scheduler let exactly one worker do one thing. Red rows are where
an invariant (a property that must always hold) broke.</li></ul></div>
"""


def _contents(runs: Sequence[tuple[str, RunResult]], sections: Sequence[FigureSection]) -> str:
    items = []
    for n, (label, run) in enumerate(runs, 1):
        verdict = ("✗ " + _e(run.violation.describe()) if run.violation is not None
                   else "✓ no invariant broke")
        items.append(f'<li><a href="#run-{n}">{_e(label)}</a> — {verdict}</li>')
    items.extend(f'<li><a href="#{_e(s.anchor)}">{_e(s.title)}</a></li>' for s in sections)
    return f'<ol class="contents">{"".join(items)}</ol>' if items else ""


def _summary(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<section class="summary-section"><h2>Summary</h2><table class="summary">'
            f'{f"<thead><tr>{head}</tr></thead>" if head else ""}<tbody>{body}</tbody>'
            "</table></section>")


# -- a run as lanes ----------------------------------------------------------------------------

_ACCENTS = ("#1c7ed6", "#0ca678", "#e8590c", "#d6336c", "#1098ad", "#74b816", "#ae3ec9",
            "#f59f00", "#4263eb")
_PLANNER_ACCENT = "#7048e8"
_DNS_ACCENT = "#495057"


def _lanes(run: RunResult) -> list[str]:
    lanes = list(run.config.worker_names)
    lanes += [w for w in dict.fromkeys(s.worker for s in run.steps) if w not in lanes]
    return lanes


def _accent(actor: str, index: int) -> str:
    if actor == "planner":
        return _PLANNER_ACCENT
    if actor == DNS_LANE:
        return _DNS_ACCENT
    return _ACCENTS[(index - 1) % len(_ACCENTS)]


def _role(actor: str) -> str:
    if actor == "planner":
        return "writes new plans"
    if actor == DNS_LANE:
        return "what clients resolve after the step"
    return "applies plans to DNS"


def _run_section(n: int, label: str, run: RunResult) -> str:
    config = run.config
    lanes = _lanes(run)
    accents = {actor: _accent(actor, i) for i, actor in enumerate([*lanes, DNS_LANE])}
    variant = VARIANTS.get(config.variant)
    about = f"{_e(config.variant)}: {_e(variant.summary)}" if variant is not None else \
        _e(config.variant)
    if config.enactor is not None:
        about = f"custom enactor {_e(config.enactor)}"
    checked = ", ".join(str(i) for i in config.invariants)
    facts = (f"{config.enactors} enactor{'s' if config.enactors != 1 else ''} · "
             f"{config.endpoints} endpoint{'s' if config.endpoints != 1 else ''} · "
             f"plans g1–g{config.newest_generation} · {run.length} steps · "
             f"checked invariants {checked} · "
             + ("every worker finished" if run.completed else
                "stopped at the violation" if run.violation is not None else
                "stopped at the step bound"))
    header = "".join(
        f'<th class="lane" data-actor="{_e(a)}" style="--accent:{accents[a]}">'
        f'<span class="actor">{_e(a)}</span><span class="role">{_role(a)}</span></th>'
        for a in [*lanes, DNS_LANE])
    rows = _step_rows(n, run.steps, lanes, accents)
    choices = " ".join(str(c) for c in run.choices) or "(none)"
    return (f'<section class="run" id="run-{n}" data-variant="{_e(config.variant)}">'
            f"<h2>{n}. {_e(label)}</h2><p class=\"about\">{about}</p>"
            f'<p class="facts">{facts}</p>{_banner(n, run)}'
            f'<div class="scroll"><table class="lanes">{_colgroup(lanes)}<thead><tr>'
            '<th class="stepno">step</th>'
            f"{header}</tr></thead><tbody>{rows}</tbody></table></div>"
            f"<details><summary>the schedule (replay choices)</summary><code>{choices}</code>"
            "</details></section>")


def _colgroup(lanes: list[str]) -> str:
    """Lane widths: the planner acts a few times, the enactors and DNS have more to say."""
    weights = [0.7 if actor == "planner" else 1.0 for actor in lanes] + [1.0]
    total = sum(weights)
    cols = "".join(f'<col style="width:{100 * w / total:.2f}%">' for w in weights)
    return f'<colgroup><col class="stepcol">{cols}</colgroup>'


def _banner(n: int, run: RunResult) -> str:
    if not run.violations:
        how = "every worker finished" if run.completed else "the run stopped at its step bound"
        return (f'<div class="banner good">✓ No invariant broke in {run.length} steps; {how}.'
                "</div>")
    items = "".join(f'<li><a href="#run-{n}-step-{v.step}">{_e(v.describe())}</a></li>'
                    for v in run.violations)
    return f'<div class="banner bad"><b>✗ An invariant broke</b><ul>{items}</ul></div>'


def _step_rows(n: int, steps: Sequence[Step], lanes: list[str],
               accents: Mapping[str, str]) -> str:
    rows: list[str] = []
    previous: Sequence[EndpointState] = ()
    clock = None
    for step in steps:
        classes = "step violation" if step.violations else "step"
        clock_text = f'<span class="clock">t={step.clock_ms} ms</span>' \
            if step.clock_ms != clock else ""
        clock = step.clock_ms
        cells = [f'<td class="stepno">{step.index}{clock_text}</td>']
        for actor in lanes:
            if actor == step.worker:
                cells.append(f'<td class="cell acted" data-actor="{_e(actor)}" '
                             f'style="--accent:{accents[actor]}">{_acted(step)}</td>')
            else:
                cells.append(f'<td class="cell" data-actor="{_e(actor)}"></td>')
        empty = any(answers_no_address(s) for s in step.endpoints)
        cells.append(f'<td class="cell dns{" empty" if empty else ""}" data-actor="{DNS_LANE}">'
                     f"{_dns_cell(step, previous)}</td>")
        previous = step.endpoints
        rows.append(f'<tr class="{classes}" id="run-{n}-step-{step.index}" '
                    f'data-step="{step.index}" data-worker="{_e(step.worker)}">'
                    f'{"".join(cells)}</tr>')
    return "".join(rows)


# The badge of each kind of action (`Step.kind`), and the words of the action's prose that the
# badge already says (`trace.describe_action` begins an UPDATE with "UPDATE ", a query with
# "query ", a plan-store call with "store: "); a back-off keeps its whole sentence.
_BADGES = {"update": ("UPDATE", "UPDATE "), "query": ("query", "query "),
           "store": ("plan store", "store: "), "sleep": ("sleep", "")}


def _acted(step: Step) -> str:
    badge, said = _BADGES.get(step.kind, ("", ""))
    text = step.action.removeprefix(said) if said else step.action
    outcome = _e(step.outcome)
    rcode = step.rcode
    if rcode is not None:
        rest = step.outcome.removeprefix(rcode).lstrip()
        rcode_class = "ok" if rcode == "NOERROR" else "refused"
        outcome = f'<span class="rcode {rcode_class}">{_e(rcode)}</span> {_e(rest)}'
    note = f'<div class="note">{_e(step.note)}</div>' if step.note else ""
    return (f'<div class="action kind-{step.kind or "other"}"><span class="badge">{_e(badge)}'
            f'</span> {_e(text)}</div><div class="outcome">→ {outcome}</div>{note}')


def _dns_cell(step: Step, previous: Sequence[EndpointState]) -> str:
    before = {s.endpoint: s for s in previous}
    lines = []
    for state in step.endpoints:
        classes = ["endpoint"]
        if state.endpoint in before and before[state.endpoint] != state:
            classes.append("changed")
        if answers_no_address(state):
            classes.append("empty")
        addresses = " ".join(state.addresses) or "no addresses"
        lines.append(f'<div class="{" ".join(classes)}" title="{_e(addresses)}">'
                     f"{_e(state.describe())}</div>")
    for v in step.violations:
        where = f" on {v.endpoint}" if v.endpoint else ""
        lines.append(f'<div class="broke"><b>✗ invariant {v.invariant} broke{_e(where)}:</b> '
                     f"{_e(v.title)} — {_e(v.detail)}</div>")
    return "".join(lines)


# -- the DNS change log ------------------------------------------------------------------------


def _dns_log_section(dns_log: Sequence[CommittedUpdate], lock_names: set[str]) -> str:
    rows = []
    for update in dns_log:
        items = "".join(
            f'<li class="change {change.kind.value}'
            f'{" lock" if change.name.lower() in lock_names else ""}">'
            f"{_e(change.to_text())}</li>" for change in update.changes)
        who = (update.key_name or "(unsigned)").rstrip(".")
        rows.append(f"<tr><td>{update.serial}</td><td>{_e(who)}</td>"
                    f'<td><ul class="changes">{items}</ul></td></tr>')
    return ('<section class="dnslog"><h2>DNS change log</h2><p>The UPDATEs the DNS server '
            "committed, in order, with the zone's serial after each. Refused UPDATEs change "
            "nothing and are not listed; the lock record's changes are greyed out.</p>"
            '<table class="log"><thead><tr><th>serial</th><th>signed by</th><th>changes</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


_CSS = """
:root{--ink:#212529;--muted:#6c757d;--line:#dee2e6;--bad:#e03131;--bad-bg:#fff0f0;
--good:#2f9e44;--good-bg:#ebfbee;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);font-size:14px;line-height:1.45}
body{margin:24px auto;max-width:1340px;padding:0 16px;background:#f8f9fa}
h1{font-size:26px;margin:0 0 8px}h2{font-size:19px;margin:0 0 8px}
code,.dns,.log{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
header,section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin-bottom:18px}
.lede{max-width:78em;margin:0 0 10px}
.howto{background:#f1f3f5;border-radius:6px;padding:10px 16px}.howto h2{font-size:15px;margin:0}
.howto ul{margin:6px 0 0;padding-left:20px}.contents{margin:10px 0 0}
table{border-collapse:collapse}
.summary th,.summary td,.log th,.log td{border:1px solid var(--line);padding:4px 10px;
text-align:left;vertical-align:top}
.summary th,.log th{background:#f1f3f5}
.about{margin:0;color:var(--ink)}.facts{margin:2px 0 10px;color:var(--muted)}
.banner{border-radius:6px;padding:10px 14px;margin:8px 0 12px;font-size:15px}
.banner.bad{background:#ffe3e3;border:2px solid var(--bad);color:#a51111}
.banner.bad ul{margin:4px 0 0;padding-left:20px}.banner a{color:inherit}
.banner.good{background:var(--good-bg);border:2px solid var(--good);color:#1b6e2e}
.scroll{overflow-x:auto}
table.lanes{width:100%;table-layout:fixed}
.lanes th{background:#fff;text-align:left;padding:6px 8px;
border-bottom:3px solid var(--accent,var(--line))}
.lanes .stepcol{width:52px}.lanes th.stepno{border-bottom-color:var(--line)}
.lanes .actor{display:block;font-size:15px;color:var(--accent)}
.lanes .role{display:block;font-weight:normal;font-size:12px;color:var(--muted)}
.lanes td{vertical-align:top;padding:4px 8px;font-size:13px;border-bottom:1px solid #f1f3f5;
border-left:1px solid #e9ecef}
td.stepno{font-weight:600;color:var(--muted);border-left:none}
.clock{display:block;white-space:nowrap;font-weight:normal;font-size:11px}
td.acted{background:color-mix(in srgb,var(--accent) 9%,#fff);
box-shadow:inset 3px 0 0 var(--accent)}
.action{font-weight:600}.outcome{margin-top:2px}.note{color:#495057;font-style:italic}
.badge{display:inline-block;font-size:11px;font-weight:700;border-radius:3px;padding:0 5px;
background:#e9ecef;color:#495057}
.kind-update .badge{background:var(--accent);color:#fff}
.rcode{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:700;border-radius:3px;
padding:0 4px}
.rcode.ok{background:#d3f9d8;color:#1b6e2e}.rcode.refused{background:#ffe8cc;color:#a93f00}
td.dns{font-size:12.5px;background:#fafafa}
.endpoint{color:var(--muted)}.endpoint.changed{color:var(--ink);font-weight:700}
.endpoint.empty{color:var(--bad);font-weight:700}
td.dns.empty{background:var(--bad-bg)}
tr.violation td,tr.violation td.dns{background:#ffd8d8;border-top:2px solid var(--bad);
border-bottom:2px solid var(--bad)}
tr.violation td.stepno{color:var(--bad);box-shadow:inset 4px 0 0 var(--bad)}
.broke{margin-top:4px;color:#a51111;font-family:system-ui,sans-serif;font-size:13px}
details{margin-top:8px;color:var(--muted)}
.totals{color:var(--muted);margin:6px 0 0}
.changes{list-style:none;margin:0;padding:0;font-size:12.5px}
.change.delete-rrset,.change.delete-rr,.change.delete-name{color:var(--bad)}
.change.lock{color:#adb5bd}
"""
