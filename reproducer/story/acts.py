"""`make reproduce`: the whole outage, live, in one command (`reproducer story`).

1. Baseline: fake-dns, the backends the Planner knows and two load balancers start as separate
   processes on loopback; steady traffic flows through the load balancers; dig answers the
   regional endpoint. (The stage, its processes and its traffic: `stage.py`.)
2. Hypothesis explores the aws-2025 enactors (in-process) for a schedule that empties the record,
   and shrinks it to the shortest story, printed one line per step.
3. That schedule is replayed live against the running fleet: when the record empties, dig shows
   NOERROR with no address and the traffic fails; then every enactor fails to apply the newer
   plan and the system stays stuck.
4. The operators' manual repair (`reproducer repair`) restores the record; the time
   until traffic recovers is measured.
5. The same schedule under the correct fix: no empty record, no failed request, newest plan.
A table compares the two runs.
6. The second act (`second_act.py`, on processes of its own): DNS is healthy again, yet the
   lease manager's goodput stays near zero and its queue grows, until the operators throttle
   and restart it; 7. the same outage under admission by queue size recovers by itself.
A table compares them, and an HTML report is written, with the second act's charts.

Every expectation is checked; the command exits 0 only when each happened as described, and it
stops every process it started, also on Ctrl-C or when a step fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fake_dns import CommittedUpdate, JournalError, read_journal
from fake_dns.testing import ServerProcess
from fake_lb import FleetProcess
from reproducer.commands import shell_command
from reproducer.running.choices import FollowWorkers, ReplayChoices
from reproducer.running.trace import RunResult, Step
from reproducer.running.transport import run_against
from reproducer.story.second_act import SecondAct, play_second_act
from reproducer.story.stage import (
    DEADLINE_S,
    STORY_KEY,
    STORY_LBS,
    TRAFFIC_RATE_PER_S,
    Report,
    Stage,
    StoryFailed,
    Traffic,
    dig,
    expect,
    probe_until_ok,
    regional_name,
    story_backends,
    story_config,
    zone_file_text,
)
from reproducer.telling.narrate import flip_generation, format_endpoints
from reproducer.world.config import Config

__all__ = ["StoryFailed", "tell_story"]

log = logging.getLogger(__name__)

FIX_VARIANT = "cas-guarded"
DNS_LOG = "story-dns.log"  # fake-dns's stderr, in the output directory
STEP_PAUSE_S = 0.05
_COUNTS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")


# -- the story ----------------------------------------------------------------------------------


def narrate(step: Step) -> str:
    """One line of the story: the worker's own words; a refused UPDATE says what it sent."""
    text = step.note or step.action
    if step.kind == "update" and not step.committed:
        text = f"{step.action} -> {step.outcome}: {step.note}"
    return f"  {step.index:3}  {step.worker:<10} {text}"


def find_story(config: Config, report: Report) -> tuple[RunResult, dict[str, object]]:
    """Hypothesis looks for a schedule that empties the record (seeded, so the same story
    every time), shrinks it, and the schedule-aware pass minimises it further."""
    from reproducer.search import explore_hypothesis

    found = explore_hypothesis(config, max_runs=2_000, seed=0, database=None,
                               progress=lambda line: report(f"  {line}"))
    if found.result is None or found.result.violation is None:
        raise StoryFailed(f"Hypothesis found no schedule that empties the record in "
                          f"{found.executions} executions")
    stats: dict[str, object] = {
        "executions": found.executions,
        "first violating run": f"#{found.first_at} ({found.found_steps} steps)",
        "after Hypothesis's shrinking": f"{found.shrunk_steps} steps",
        "after the schedule-aware pass": f"{found.result.length} steps",
    }
    return found.result, stats


@dataclass
class RunSummary:
    label: str
    failed_requests: int = 0
    sent_requests: int = 0
    seconds_without_addresses: float = 0.0
    broken: list[str] = field(default_factory=list)


def _prepare(out_dir: Path, config: Config) -> tuple[Path, Path]:
    """The zone file and an empty journal (synchronous file work, before the event loop)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / "story-dns.journal"
    journal.unlink(missing_ok=True)
    (out_dir / DNS_LOG).unlink(missing_ok=True)
    zone_file = out_dir / "story-zone.db"
    zone_file.write_text(zone_file_text(config))
    return zone_file, journal


async def _baseline(stage: Stage) -> None:
    stage.section("1. The baseline")
    fleet = stage.fleet
    stage.report(f"fake-dns (authoritative for {stage.config.layout.zone}) listening on "
                 f"127.0.0.1:{stage.dns.port}")
    stage.report(f"{len(fleet.backends)} backends on {', '.join(fleet.backend_addresses)} port "
                 f"{fleet.backend_port}")
    stage.report(f"{len(fleet.lbs)} load balancers at {', '.join(fleet.lb_urls)}, resolving "
                 f"{fleet.endpoint}")
    await stage.dig()
    await stage.traffic.wait_for_interval_after(1.5)
    sent, failed, _ = stage.traffic.since(0)
    stage.report(f"traffic: {TRAFFIC_RATE_PER_S:.0f} requests/s through the load balancers: "
                 f"{sent - failed}/{sent} succeeded")
    expect(sent > 0 and failed == 0, f"baseline traffic should all succeed, {failed} failed")


async def _search(stage: Stage) -> RunResult:
    stage.section("2. Hypothesis looks for a schedule that empties the record")
    found, stats = await asyncio.to_thread(find_story, stage.config, stage.report)
    expect(found.violation is not None and found.violation.invariant == 1,
           "Hypothesis should find a schedule that leaves the regional endpoint empty")
    for key, value in stats.items():
        stage.report(f"  {key}: {value}")
    stage.report("The shortest story, in the workers' own words (the note each step leaves):")
    for step in found.steps:
        stage.report(narrate(step))
    return found


async def _outage(stage: Stage, found: RunResult) -> tuple[RunResult, float]:
    """The found schedule, live; returns the run and when the record emptied."""
    stage.section("3. The same schedule, live against the running fleet")
    live_config = replace(stage.config, invariants=(1, 2, 3, 4))
    emptied_at: list[float] = []

    async def after_step(step: Step) -> None:
        stage.report(narrate(step) + f"   [DNS: {format_endpoints(step.endpoints)}]")
        for v in step.violations:
            stage.report(f"        !!! invariant {v.invariant} broken: {v.title} ({v.detail})")
        if any(v.invariant == 1 for v in step.violations) and not emptied_at:
            emptied_at.append(stage.now())
            await _watch_the_outage(stage, emptied_at[0])
        await asyncio.sleep(STEP_PAUSE_S)

    live = await run_against("127.0.0.1", stage.dns.port, STORY_KEY, live_config,
                             ReplayChoices(found.choices), stop_at_violation=False,
                             health=stage.health, after_step=after_step)
    expect(bool(emptied_at), "the live replay should empty the regional endpoint")
    expect([s.worker for s in live.steps[:found.length]] == [s.worker for s in found.steps],
           "the live replay should follow the schedule Hypothesis found")
    # After the outage: the UPDATEs that flip the alias, and those flipping it to the newest plan.
    layout, newest = live_config.layout, live_config.newest_generation
    flips = [s for s in live.steps[found.length:] if flip_generation(s, layout) is not None]
    refused = [s for s in flips if flip_generation(s, layout) == newest and not s.committed]
    stuck = sorted({s.worker for s in refused})
    rcodes = ", ".join(sorted({s.rcode or "?" for s in refused}))
    stage.report(f"stuck: {', '.join(stuck)} tried to apply the newest plan g{newest} and every "
                 f"flip was refused ({rcodes}: the rollback record must point at the active "
                 "tree, which is gone)")
    expect(bool(stuck), "after the outage, the enactors should try the newest plan")
    expect(not any(s.committed for s in flips),
           "no enactor should manage a flip after the outage")
    expect(live.violations[-1].invariant == 4, "the run should end stuck (invariant 4)")
    await stage.dig()
    return live, emptied_at[0]


async def _watch_the_outage(stage: Stage, t_emptied: float) -> None:
    """With every worker parked at the moment the record empties: what clients see."""
    stage.report("")
    stage.report("  The regional endpoint is empty. What clients see:")
    for line in await dig(stage.dns.port, stage.regional):
        stage.report("  " + line)
    # The load balancers cached the old answer for its TTL (3 s); then every new request
    # fails. Watch until a whole interval fails.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        last = await stage.traffic.wait_for_interval_after(t_emptied)
        if last.sent and last.failed == last.sent:
            break
        await asyncio.sleep(0.1)
    last = stage.traffic.intervals[-1]
    stage.report(f"  traffic: {last.failed}/{last.sent} requests failed "
                 f"({100 * last.failed // max(1, last.sent)}%): "
                 + ", ".join(f"{r} {c}" for r, c in last.failures))
    expect(last.sent > 0 and last.failed == last.sent,
           "every request should fail once the record is empty")
    stage.report("  The enactors go on, and the planner writes "
                 f"g{stage.config.newest_generation}:")
    stage.report("")


async def _repair(stage: Stage) -> tuple[float, float]:
    """The operators' repair, through the documented command; returns (when it was sent,
    when traffic was whole again)."""
    stage.section("4. The manual repair")
    port, plans = stage.dns.port, stage.config.plans
    addresses = ",".join(stage.fleet.backend_addresses)
    args = ["repair", "--dns", f"127.0.0.1:{port}", "--tsig-key", STORY_KEY.spec,
            "--plans", str(plans), "--addresses", addresses]
    stage.report("$ " + shell_command(*args))
    t_repair = stage.now()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reproducer", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate()
    for line in output.decode().splitlines():
        stage.report("  " + line)
    expect(proc.returncode == 0, "the repair command should succeed")
    recovery_s = await probe_until_ok(stage.fleet.lb_urls[0], 15)
    stage.report(f"traffic recovered {recovery_s:.1f} s after the repair "
                 "(the time for the load balancers' cached empty answer to expire)")
    # Every load balancer must be past its cached empty answer before the fix run is judged:
    # wait for a whole traffic interval without a failure.
    t_ok = stage.now()
    while True:
        last = await stage.traffic.wait_for_interval_after(t_ok, timeout_s=15)
        if last.sent and not last.failed:
            break
        t_ok = last.end_s
    stage.report(f"traffic: {last.sent}/{last.sent} requests succeeded again")
    return t_repair, last.end_s


async def _fix(stage: Stage, found: RunResult, t_fix: float) -> tuple[RunResult, RunSummary]:
    stage.section(f"5. The fix: the same schedule under {FIX_VARIANT}")
    fixed_config = replace(stage.config, variant=FIX_VARIANT, invariants=(1, 2, 3, 4))

    async def fix_step(step: Step) -> None:
        stage.report(narrate(step) + f"   [DNS: {format_endpoints(step.endpoints)}]")
        await asyncio.sleep(STEP_PAUSE_S / 2)

    # The same interleaving, worker by worker (the fix's workers take other steps, so a choice
    # index would not fit; see FollowWorkers).
    fixed = await run_against("127.0.0.1", stage.dns.port, STORY_KEY, fixed_config,
                              FollowWorkers([s.worker for s in found.steps]),
                              stop_at_violation=False, health=stage.health,
                              after_step=fix_step)
    await asyncio.sleep(3.5)  # longer than the TTL: any empty answer would have shown
    fix = RunSummary(f"{FIX_VARIANT} (the fix)")
    fix.sent_requests, fix.failed_requests = stage.traffic.between(t_fix, stage.now())
    fix.broken = sorted({f"{v.invariant}" for v in fixed.violations})
    final = fixed.steps[-1].endpoints
    stage.report(f"no invariant broken: {not fixed.violations}; the enactors finished with "
                 f"{format_endpoints(final)}; traffic: {fix.failed_requests}/"
                 f"{fix.sent_requests} requests failed"
                 + "".join(f" ({i.line()})" for i in stage.traffic.intervals
                           if i.start_s >= t_fix and i.failed))
    expect(not fixed.violations, f"the fix broke {fixed.violations}")
    expect(all(e.generation == fixed_config.newest_generation for e in final),
           "the fix should end on the newest plan")
    expect(fix.failed_requests == 0, f"{fix.failed_requests} requests failed under the fix")
    return fixed, fix


def _start_dns(stack: contextlib.AsyncExitStack, out_dir: Path, zone_file: Path,
               journal: Path) -> ServerProcess:
    """fake-dns with the story's zone, key and journal; its log goes to `DNS_LOG`."""
    dns = ServerProcess(["--zone-file", str(zone_file), "--tsig-key", STORY_KEY.spec,
                         "--log-level", "WARNING"], journal=journal,
                        stderr_path=out_dir / DNS_LOG)
    try:
        # Blocks until the server prints where it listens (a fraction of a second); nothing
        # else runs yet, and a Ctrl-C meanwhile is seen at the next await, with the server
        # already registered for stopping.
        return stack.enter_context(dns)
    except RuntimeError as exc:
        raise StoryFailed(str(exc)) from None


async def _start_fleet(stack: contextlib.AsyncExitStack, config: Config,
                       dns: ServerProcess) -> FleetProcess:
    """The backends the Planner knows and the load balancers, resolving the regional name."""
    backends = story_backends(config)
    fleet = await stack.enter_async_context(FleetProcess(
        ("127.0.0.1", dns.port), backends=len(backends), first_backend=backends[0],
        lbs=STORY_LBS, endpoint=regional_name(config)))
    expect(fleet.info.backend_addresses == backends,
           f"the fleet's backends {fleet.info.backend_addresses} should be the Planner's "
           f"{backends}")
    return fleet


async def _story(out_dir: Path, report: Report, zone_file: Path, journal: Path) -> int:
    t_start = time.monotonic()
    config = story_config()
    report("The DynamoDB DNS race of 20 October 2025, reproduced on real DNS.")
    report(f"{_COUNTS[config.enactors]} DNS Enactors apply a Planner's plans to a real DNS "
           "server through RFC 2136")
    report(f"UPDATEs; load balancers resolve {regional_name(config).rstrip('.')} through it.")

    async with contextlib.AsyncExitStack() as stack:
        # Every process and task is registered for stopping as soon as it exists, so a failed
        # expectation or Ctrl-C anywhere below stops them all.
        dns = _start_dns(stack, out_dir, zone_file, journal)
        fleet = await _start_fleet(stack, config, dns)
        traffic = Traffic(fleet.info.lb_urls, time.monotonic())
        traffic.start()
        stack.push_async_callback(traffic.stop)
        stage = Stage(report, config, dns, fleet.info, traffic)

        await _baseline(stage)
        found = await _search(stage)
        live, t_emptied = await _outage(stage, found)
        t_repair, t_fix = await _repair(stage)
        await traffic.wait_for_interval_after(t_fix)
        aws = RunSummary("aws-2025 (the outage)")
        aws.sent_requests, aws.failed_requests = traffic.between(0, t_fix)
        aws.seconds_without_addresses = t_repair - t_emptied
        aws.broken = sorted({f"{v.invariant}" for v in live.violations})
        fixed, fix = await _fix(stage, found, t_fix)
        await traffic.stop()

    stage.section("Summary of the race")
    header = ("run", "failed requests", "seconds without addresses", "invariants broken")
    rows = [(o.label, f"{o.failed_requests}/{o.sent_requests}",
             f"{o.seconds_without_addresses:.1f}", ", ".join(o.broken) or "none")
            for o in (aws, fix)]
    _table(report, header, rows)

    second = await play_second_act(report, stage.section)
    stage.section("Summary of the second act")
    _table(report, second.header, second.rows)
    for line in second.timeline:
        report(line)
    markers = [(t_emptied, "record emptied"), (t_repair, "repair"), (t_fix, "fix run")]
    report_path = await asyncio.to_thread(write_story_report, out_dir, found, live, fixed,
                                          traffic, markers, journal, header, rows, second)
    report(f"report: {report_path}")
    report("replay the outage: "
           + shell_command("replay", str(out_dir / "story.replay.json")))
    report(f"finished in {time.monotonic() - t_start:.0f} s")
    report("Conclusion: a check made once and acted on later let a stale plan overwrite a new "
           "one;\nmaking the check and the write one conditional UPDATE closes the race. Once "
           "DNS was back,\nretries of timed-out work kept the lease manager down until people "
           "stepped in;\nadmitting work by the size of the queue lets it recover by itself.")
    return 0


def _table(report: Report, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        report("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def write_story_report(out_dir: Path, found: RunResult, live: RunResult, fixed: RunResult,
                       traffic: Traffic, markers: list[tuple[float, str]], journal: Path,
                       header: tuple[str, ...], rows: Sequence[tuple[str, ...]],
                       second: SecondAct) -> Path:
    from reproducer.metastable import series_svg
    from reproducer.running.replay import save_replay
    from reproducer.telling import report as _report

    save_replay(out_dir / "story.replay.json", found)
    dns_log: tuple[CommittedUpdate, ...] = ()
    try:
        dns_log = read_journal(journal)
    except (JournalError, OSError, ValueError) as exc:
        # the report is still worth having without the DNS lane's change log
        log.warning("the DNS change log is left out of the report: %s", exc)
    points = _report.traffic_points_from(traffic.intervals)
    return _report.write_report(
        out_dir / "story.html", title="The DynamoDB DNS race, reproduced",
        runs=[("aws-2025 (the outage, live)", live), (f"{FIX_VARIANT} (the fix)", fixed)],
        traffic=points, markers=[_report.Marker(t, label) for t, label in markers],
        dns_log=dns_log, summary_rows=rows, summary_header=header,
        sections=[_report.FigureSection(
            "The second act: DNS is back, and the lease manager is not", "second-act",
            (*_SECOND_ACT_TEXT, " ".join(second.timeline)),
            (_report.Figure("The collapse, then the operators (real run)",
                            series_svg(second.operators, element_id="second-act-operators"),
                            "Goodput stays near zero with DNS healthy while the queue grows; "
                            "the operators' throttle and restart bring every lease back."),
             _report.Figure("The same outage under admission by queue size (real run)",
                            series_svg(second.fix, element_id="second-act-fix"),
                            "The fleet recovers by itself; the queue stays within its limit.")),
            second.header, second.rows)])


_SECOND_ACT_TEXT = (
    "The race emptied DynamoDB's name for under three hours; the outage lasted about fifteen. "
    "AWS's summary: EC2's DropletWorkflow Manager, which holds a lease on every physical host "
    "through DynamoDB, lost its leases while the name was empty, and once DNS was back it "
    "\u201chad entered a state of congestive collapse\u201d: re-establishing that many leases "
    "took longer than their timeout, and the timed-out work was queued again.",
    "Below, a lease manager (its own process) renews its leases through the same kind of load "
    "balancers and DNS server, against a lease table of bounded capacity. Each chart has three "
    "panels on one time axis: goodput (leases established per second) and wasted work, the "
    "manager's queue, and the leases held. The DNS outage is shaded grey.")


def tell_story(out_dir: Path, report: Report) -> int:
    """Tell the story, writing its report, trace and replay file under `out_dir`; 0 when every
    expectation held, 1 (after a "STORY FAILED" line) when one did not."""
    zone_file, journal = _prepare(out_dir, story_config())
    try:
        return asyncio.run(asyncio.wait_for(_story(out_dir, report, zone_file, journal),
                                            timeout=DEADLINE_S + 120))
    except StoryFailed as exc:
        report(f"STORY FAILED: {exc}")
        return 1
    except TimeoutError:
        report("STORY FAILED: it did not finish in time")
        return 1
