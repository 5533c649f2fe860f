"""`make reproduce`: the whole outage, live, in one command (`python -m reproducer story`).

1. Baseline: fake-dns, three backends and two load balancers start as separate processes on
   loopback; steady traffic flows through the load balancers; dig answers the regional endpoint.
2. Hypothesis explores the aws-2025 enactors (in-process) for a schedule that empties the record,
   and shrinks it to the shortest story, printed one line per step.
3. That schedule is replayed live against the running fleet: when the record empties, dig shows
   NOERROR with no address and the traffic fails; then every enactor fails to apply the newer
   plan and the system stays stuck.
4. The operators' manual repair (`python -m reproducer repair`) restores the record; the time
   until traffic recovers is measured.
5. The same schedule under the correct fix: no empty record, no failed request, newest plan.
A closing table compares the two runs, and an HTML report is written.

Every expectation is checked; the command exits 0 only when each happened as described, and it
stops every process it started, also on Ctrl-C or when a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp

from fake_dns import CommittedUpdate, DNSClient
from fake_lb import (
    FleetInfo,
    FleetProcess,
    IntervalStats,
    TrafficPlan,
    run_traffic,
)
from reproducer.running.choices import FollowWorkers, ReplayChoices
from reproducer.running.http_health import HttpHealthSource
from reproducer.running.trace import RunResult, Step
from reproducer.running.transport import TsigKey, run_against
from reproducer.telling.narrate import format_endpoints
from reproducer.world.config import Config
from reproducer.world.values import DEFAULT_ZONE

__all__ = ["StoryFailed", "add_story_arguments", "story_main"]

Report = Callable[[str], None]
log = logging.getLogger("reproducer.story")

REGIONAL = f"dynamodb.{DEFAULT_ZONE}"
FIX_VARIANT = "cas-guarded"
STORY_KEY = TsigKey("story-key.", hashlib.sha256(b"dns-race-reproducer story").digest())
TRAFFIC_RATE_PER_S = 40.0
TRAFFIC_INTERVAL_S = 0.5
STEP_PAUSE_S = 0.05
DEADLINE_S = 60.0


class StoryFailed(Exception):
    """An expectation of the story did not hold: the message says which."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise StoryFailed(what)


def story_config() -> Config:
    """Three enactors, one endpoint; the planner writes g2..g5 (g5 arrives after the outage)."""
    return Config(variant="aws-2025", enactors=3, endpoints=1, keep_generations=1, plans=4,
                  invariants=(1,), max_steps=150)


def zone_file_text(config: Config) -> str:
    # SOA MINIMUM 1 s: negative answers are cached for one second (RFC 2308 §5), so clients
    # recover promptly after the repair.
    lines = [f"$ORIGIN {DEFAULT_ZONE}", "$TTL 3",
             f"@ IN SOA ns1.{DEFAULT_ZONE} hostmaster.{DEFAULT_ZONE} 1 3600 600 86400 1",
             f"@ IN NS ns1.{DEFAULT_ZONE}"]
    lines += [f"{rr.name} {rr.ttl} IN {rr.rtype} {rr.rdata}" for rr in config.initial_records()]
    return "\n".join(lines) + "\n"


# -- the processes ------------------------------------------------------------------------------


@dataclass
class DnsProcess:
    """`python -m fake_dns` on 127.0.0.1:0 with the story's zone, key and journal."""

    zone_file: Path
    journal: Path
    proc: asyncio.subprocess.Process | None = None
    port: int = 0

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fake_dns", "--listen", "127.0.0.1:0",
            "--zone-file", str(self.zone_file), "--tsig-key", STORY_KEY.spec,
            "--journal", str(self.journal), "--log-level", "WARNING",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await self.proc.stdout.readline()).decode()
        if "listening on" not in line:
            err = (await self.proc.stderr.read()).decode() if self.proc.stderr else ""
            raise StoryFailed(f"fake-dns did not start: {line.strip() or err.strip()}")
        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


@dataclass
class Traffic:
    """Steady traffic through the load balancers, collected per interval (wall clock since
    `t0`), running in the background until stopped."""

    lb_urls: tuple[str, ...]
    t0: float
    intervals: list[IntervalStats] = field(default_factory=list)
    task: asyncio.Task[object] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, stats: IntervalStats) -> None:
        self.intervals.append(stats)
        self.arrived.set()

    def start(self) -> None:
        plan = TrafficPlan(TRAFFIC_RATE_PER_S, DEADLINE_S + 30, TRAFFIC_INTERVAL_S, 2.0)
        self.task = asyncio.create_task(run_traffic(self.lb_urls, plan,
                                                    on_interval=self._record))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def since(self, t_s: float) -> tuple[int, int, dict[str, int]]:
        """(sent, failed, failures by reason) in intervals that started at or after t_s."""
        sent = failed = 0
        reasons: dict[str, int] = {}
        for i in self.intervals:
            if i.start_s >= t_s:
                sent += i.sent
                failed += i.failed
                for reason, count in i.failures:
                    reasons[reason] = reasons.get(reason, 0) + count
        return sent, failed, reasons

    def between(self, a_s: float, b_s: float) -> tuple[int, int]:
        sent = failed = 0
        for i in self.intervals:
            if a_s <= i.start_s < b_s:
                sent += i.sent
                failed += i.failed
        return sent, failed

    async def wait_for_interval_after(self, t_s: float, timeout_s: float = 10) -> IntervalStats:
        async with asyncio.timeout(timeout_s):
            while not self.intervals or self.intervals[-1].start_s < t_s:
                self.arrived.clear()
                await self.arrived.wait()
        return self.intervals[-1]


# -- what clients see --------------------------------------------------------------------------


async def dig(port: int, name: str) -> list[str]:
    """dig's view of `name` A (the real tool when installed; our client otherwise)."""
    tool = shutil.which("dig")
    if tool:
        proc = await asyncio.create_subprocess_exec(
            tool, "@127.0.0.1", "-p", str(port), "+norecurse", "+noall", "+comments",
            "+answer", name, "A", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        lines = out.decode().splitlines()
        status = next((ln.split("status: ")[1].split(",")[0] for ln in lines
                       if "status: " in ln), "?")
        answer = [" ".join(ln.split()) for ln in lines if ln and not ln.startswith(";")]
        return [f"$ dig @127.0.0.1 -p {port} {name} A +norecurse", f"  status: {status}"] + [
            f"  {a}" for a in answer] + ([] if any(" A " in a for a in answer)
                                        else ["  (no A record in the answer)"])
    async with DNSClient("127.0.0.1", port) as client:
        result = await client.query(name, "A")
    return ["(dig is not installed: `apt-get install bind9-dnsutils`; asking with our client)",
            f"  status: {result.rcode.name}"] + [f"  {rr.to_text()}" for rr in result.answer] + (
        [] if result.addresses else ["  (no A record in the answer)"])


async def probe_until_ok(lb_url: str, timeout_s: float) -> float:
    """Seconds until a request through the LB succeeds (one every 50 ms)."""
    start = time.monotonic()
    connector = aiohttp.TCPConnector(force_close=True, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=1)) as session:
        while time.monotonic() - start < timeout_s:
            try:
                async with session.get(f"{lb_url}/items/probe") as reply:
                    if reply.status < 500:
                        return time.monotonic() - start
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise StoryFailed(f"traffic through {lb_url} did not recover within {timeout_s:.0f} s")


# -- the story ----------------------------------------------------------------------------------


def narrate(step: Step) -> str:
    text = step.note or step.action
    if step.action.startswith("UPDATE") and step.outcome != "NOERROR":
        text = f"{step.action} -> {step.outcome}: {step.note}"
    return f"  {step.index:3}  {step.worker:<10} {text}"


def find_story(config: Config, report: Report) -> tuple[RunResult, dict[str, object]]:
    """Hypothesis looks for a schedule that empties the record (seeded, so the same story
    every time), shrinks it, and the schedule-aware pass minimises it further."""
    from reproducer.search.hypothesis_search import explore_hypothesis

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
class Outcome:
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
    zone_file = out_dir / "story-zone.db"
    zone_file.write_text(zone_file_text(config))
    return zone_file, journal


@dataclass
class Stage:
    """What the sections share once the processes are up."""

    report: Report
    config: Config
    dns: DnsProcess
    fleet: FleetInfo
    traffic: Traffic

    @property
    def health(self) -> HttpHealthSource:
        return HttpHealthSource(self.fleet.backend_addresses, self.fleet.backend_port)

    def section(self, title: str) -> None:
        self.report("")
        self.report(f"== {title} " + "=" * max(0, 78 - len(title)))

    def now(self) -> float:
        """Seconds since the traffic started (the report's time axis)."""
        return time.monotonic() - self.traffic.t0

    async def dig(self) -> None:
        for line in await dig(self.dns.port, REGIONAL):
            self.report(line)


async def _baseline(stage: Stage) -> None:
    stage.section("1. The baseline")
    stage.report(f"fake-dns (authoritative for {DEFAULT_ZONE}) listening on "
                 f"127.0.0.1:{stage.dns.port}")
    stage.report(f"3 backends on {', '.join(stage.fleet.backend_addresses)} port "
                 f"{stage.fleet.backend_port}")
    stage.report(f"2 load balancers at {', '.join(stage.fleet.lb_urls)}, resolving {REGIONAL}")
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
    stage.report("The shortest story, in the words of the outage summary:")
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
    after = live.steps[found.length:]
    newest = live_config.newest_generation
    stuck = sorted({s.worker for s in after
                    if s.action.startswith(f"UPDATE flip dynamodb to g{newest}")
                    and s.outcome != "NOERROR"})
    stage.report(f"stuck: {', '.join(stuck)} tried to apply the newest plan g{newest} and every "
                 "flip was refused (NXRRSET: the rollback record must point at the active "
                 "tree, which is gone)")
    expect(bool(stuck), "after the outage, the enactors should try the newest plan")
    expect(not any(s.action.startswith("UPDATE flip") and s.outcome == "NOERROR"
                   for s in after), "no enactor should manage a flip after the outage")
    expect(live.violations[-1].invariant == 4, "the run should end stuck (invariant 4)")
    await stage.dig()
    return live, emptied_at[0]


async def _watch_the_outage(stage: Stage, t_emptied: float) -> None:
    """With every worker parked at the moment the record empties: what clients see."""
    stage.report("")
    stage.report("  The regional endpoint is empty. What clients see:")
    for line in await dig(stage.dns.port, REGIONAL):
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
    stage.report("  The enactors go on, and the planner writes g5:")
    stage.report("")


async def _repair(stage: Stage) -> tuple[float, float]:
    """The operators' repair, through the documented command; returns (when it was sent,
    when traffic was whole again)."""
    stage.section("4. The manual repair")
    port, plans = stage.dns.port, stage.config.plans
    addresses = ",".join(stage.fleet.backend_addresses)
    args = ["repair", "--dns", f"127.0.0.1:{port}", "--tsig-key", STORY_KEY.spec,
            "--plans", str(plans), "--addresses", addresses]
    stage.report("$ python -m reproducer " + " ".join(args))
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


async def _fix(stage: Stage, found: RunResult, t_fix: float) -> tuple[RunResult, Outcome]:
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
    fix = Outcome(f"{FIX_VARIANT} (the fix)")
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


async def _story(args: argparse.Namespace, report: Report, zone_file: Path,
                 journal: Path) -> int:
    t_start = time.monotonic()
    out_dir: Path = args.out
    report("The DynamoDB DNS race of 20 October 2025, reproduced on real DNS.")
    report("Three DNS Enactors apply a Planner's plans to a real DNS server through RFC 2136")
    report("UPDATEs; load balancers resolve dynamodb.us-east-1.amazonaws.com through it.")

    dns = DnsProcess(zone_file, journal)
    async with contextlib.AsyncExitStack() as stack:
        # Every process and task is registered for stopping as soon as it exists, so a failed
        # expectation or Ctrl-C anywhere below stops them all.
        await dns.start()
        stack.push_async_callback(dns.stop)
        fleet = await stack.enter_async_context(
            FleetProcess(("127.0.0.1", dns.port), backends=3, lbs=2))
        traffic = Traffic(fleet.info.lb_urls, time.monotonic())
        traffic.start()
        stack.push_async_callback(traffic.stop)
        stage = Stage(report, story_config(), dns, fleet.info, traffic)

        await _baseline(stage)
        found = await _search(stage)
        live, t_emptied = await _outage(stage, found)
        t_repair, t_fix = await _repair(stage)
        await traffic.wait_for_interval_after(t_fix)
        aws = Outcome("aws-2025 (the outage)")
        aws.sent_requests, aws.failed_requests = traffic.between(0, t_fix)
        aws.seconds_without_addresses = t_repair - t_emptied
        aws.broken = sorted({f"{v.invariant}" for v in live.violations})
        fixed, fix = await _fix(stage, found, t_fix)
        await traffic.stop()

    stage.section("Summary")
    header = ("run", "failed requests", "seconds without addresses", "invariants broken")
    rows = [(o.label, f"{o.failed_requests}/{o.sent_requests}",
             f"{o.seconds_without_addresses:.1f}", ", ".join(o.broken) or "none")
            for o in (aws, fix)]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]
    for row in (header, *rows):
        report("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    markers = [(t_emptied, "record emptied"), (t_repair, "repair"), (t_fix, "fix run")]
    report_path = await asyncio.to_thread(write_story_report, out_dir, found, live, fixed,
                                          traffic, markers, journal, header, rows)
    report(f"report: {report_path}")
    report(f"replay the outage: python -m reproducer replay {out_dir / 'story.replay.json'}")
    report(f"finished in {time.monotonic() - t_start:.0f} s")
    report("Conclusion: a check made once and acted on later let a stale plan overwrite a new "
           "one;\nmaking the check and the write one conditional UPDATE closes the race.")
    return 0


def write_story_report(out_dir: Path, found: RunResult, live: RunResult, fixed: RunResult,
                       traffic: Traffic, markers: list[tuple[float, str]], journal: Path,
                       header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Path:
    from fake_dns._journal import JournalError, read_journal
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
        dns_log=dns_log, summary_rows=rows, summary_header=header)


def add_story_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="where the report, trace and replay file go (default reports/)")


def story_main(args: argparse.Namespace, report: Report) -> int:
    zone_file, journal = _prepare(args.out, story_config())
    try:
        return asyncio.run(asyncio.wait_for(_story(args, report, zone_file, journal),
                                            timeout=DEADLINE_S + 60))
    except StoryFailed as exc:
        report(f"STORY FAILED: {exc}")
        return 1
    except TimeoutError:
        report("STORY FAILED: it did not finish in time")
        return 1
