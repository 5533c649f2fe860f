"""`reproducer collapse`: the outage's second act, the lease fleet's congestive collapse after
the DNS repair.

    reproducer collapse [boundary] [--policies P ...] [--outages 0,1,2] [--fleet 40,80] [--times]
                                   [--svg PATH] [--html PATH]
    reproducer collapse model|run [--policy P] [--hosts N] [--lease-s S] [--timeout-s S]
                                  [--capacity N] [--outage-s S] [--svg PATH] [--html PATH]
    reproducer collapse search [--policy P] [--shrink outage|fleet] [--sampler hypothesis|uniform]
                               [--seeds N]

Named after AWS's own words for it: EC2's DropletWorkflow Manager "had entered a state of
congestive collapse" (aws.amazon.com/message/101925). "metastable" names the class of failure
and the package that models it; "collapse" names what a user comes to see, and where it ends:
the map of outage length x fleet size that collapses or recovers under each policy, which is
what the command shows when given no action.

The actions, their flags and what they do are `reproducer.metastable.command`'s (its own command
line is `python -m reproducer.metastable`, which adds the manager's process): this module only
adds `--html`, a self-contained page of the pictures, and `reproducer`'s conventions: errors are
one line, "reproducer: error: ...", exit 2; a run that ends collapsed exits 1; Ctrl-C stops every
process and exits 130.
"""

from __future__ import annotations

import argparse

from reproducer.cli.parsing import Command, Report, UsageError, output_file
from reproducer.metastable import LiveRunFailed, ParamError
from reproducer.metastable.command import add_commands, execute
from reproducer.telling.report import Figure, FigureSection, write_page

__all__ = ["COMMAND"]

_INTRO = (
    "The DNS race emptied DynamoDB's name for under three hours; the outage lasted about "
    "fifteen. Once DNS was back, EC2's DropletWorkflow Manager could not re-establish its "
    "leases on the physical hosts before they timed out, and the retries kept it down: a "
    "metastable failure, which outlives its trigger.",
    "A lease manager renews one lease per host through load balancers that resolve the "
    "endpoint through DNS, against a backend pool of bounded capacity. The pictures below are "
    "the model's (virtual time) or a real run's; docs/second-act.md explains them.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="act", metavar="ACTION", required=True,
                           description="boundary (the default: `reproducer collapse` alone, or "
                                       "followed by boundary's flags), model, run, search")
    parsers = add_commands(sub, manager=False)
    for name in ("boundary", "model", "run"):
        parsers[name].add_argument("--html", type=output_file, metavar="PATH",
                                   help="also write the pictures in a self-contained HTML page")


def main(args: argparse.Namespace, report: Report) -> int:
    figures: list[Figure] = []
    try:
        code = execute(args, report, lambda title, svg: figures.append(Figure(title, svg)))
    except (ParamError, LiveRunFailed) as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:
        raise  # the reader went away (`| head`): nothing to say, and nobody to say it to
    except OSError as exc:  # a file that could not be written after all
        raise UsageError(f"{exc.filename or 'a file'}: {exc.strerror or exc}") from None
    if getattr(args, "html", None) is not None:
        title = ("Where the lease fleet collapses: outage length x fleet size"
                 if args.act == "boundary" else "The lease fleet over time")
        what = ("Rows are fleet sizes, columns outage lengths; a cell is green where the fleet "
                "recovered and red where it stayed down once DNS had been healthy for "
                f"{args.healthy_for_s:g} s." if args.act == "boundary" else
                "Goodput (leases established per second), the manager's queue and the leases "
                "held; the DNS outage is shaded.")
        write_page(args.html, title=f"The second act: {title.lower()}", intro=_INTRO,
                   sections=[FigureSection(title, "pictures", (what,), tuple(figures))])
        report(f"page: {args.html}")
    return code


COMMAND = Command("collapse", "the second act: the lease fleet's congestive collapse after the "
                  "DNS repair (a boundary map, a model or real run, a search)", add_arguments,
                  main, configured=False, default_action="boundary")
