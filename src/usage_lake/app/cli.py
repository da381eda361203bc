"""`usage-lake`: run, back-fill, rebuild and inspect the lake from a terminal.

The CLI reads the same environment variables as the Lambda (see the README's settings table); flags override
them. The key comes from ANTHROPIC_ADMIN_API_KEY, or from Secrets Manager with --secret-id.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from usage_lake import __version__
from usage_lake.alerts import Publisher
from usage_lake.app.jobs import parse_event
from usage_lake.app.runner import Progress, configure_logging, run_to_completion
from usage_lake.config.events import Mode, RunRequest
from usage_lake.config.secrets import AdminKey, admin_key_from_secret, admin_key_from_text
from usage_lake.config.settings import Settings
from usage_lake.errors import UsageLakeError
from usage_lake.ingest import RunRecord
from usage_lake.ingest.run import Interrupted
from usage_lake.ingest.runlog import effective_outcome, find_resume_point
from usage_lake.lake.store import Lake, check_lake, open_lake
from usage_lake.sources import registry

__all__ = ["main"]

DEFAULT_LOCAL_LAKE = "./lake"

EPILOG = """\
examples:
  usage-lake demo                                   # simulator -> ./lake, then totals by day and model
  export ANTHROPIC_ADMIN_API_KEY=sk-ant-admin01-...
  usage-lake run --lake ./lake                      # incremental: the last USAGE/COST_LOOKBACK_DAYS days
  usage-lake run --start 2026-01-01 --end 2026-11-01 --lake s3://my-bucket/anthropic
  usage-lake summary --lake ./lake --days 7
  usage-lake runs --lake ./lake
"""


VERBOSE_HELP = "log every day, page and retry (to stderr)"


class CliError(UsageLakeError):
    """A problem the user can fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose, stream=sys.stderr)
    try:
        code = args.command(args)
        sys.stdout.flush()  # a closed pipe (`usage-lake summary | head`) shows here, not at exit
        return code
    except UsageLakeError as exc:
        print(f"usage-lake: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("usage-lake: interrupted; days already written are complete, the rest was not written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (head, less): nothing more to say; keep Python from complaining when it flushes at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe cut short


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usage-lake",
        description="Anthropic Admin API usage and cost reports into an S3 + Athena (or local) lake.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    # -v works after the command too (`usage-lake run -v`); SUPPRESS keeps the one given before it otherwise
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    add = functools.partial(sub.add_parser, parents=[common])

    run = add("run", help="fetch usage and cost into a lake (incremental, or a backfill with --start/--end)",
              description="Fetch the usage and cost reports into a lake. Without --start/--end this is an "
              "incremental run: the trailing USAGE_LOOKBACK_DAYS / COST_LOOKBACK_DAYS whole UTC days through now. "
              "A backfill that was interrupted (Ctrl-C, SIGTERM, a killed process) or failed carries on where it "
              "stopped when the same range is run again; --restart fetches the whole range instead.")
    _lake_option(run)
    run.add_argument("--start", type=_day, help="first UTC day of a backfill (YYYY-MM-DD)")
    run.add_argument("--end", type=_day, help="day after the last one of a backfill (exclusive, YYYY-MM-DD)")
    resume = run.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="carry on the latest interrupted backfill (of --start/--end if given; without them, whichever it was)")
    resume.add_argument("--restart", action="store_true", help="fetch the whole --start/--end range even if a run of it was interrupted")
    run.add_argument("--reports", default=",".join(registry.names()), help=f"comma-separated subset of: {','.join(registry.names())} (default: all)")
    run.add_argument("--now", help="pin the clock (RFC 3339), for replays")
    run.add_argument("--secret-id", default=os.environ.get("ADMIN_KEY_SECRET_ID"),
                     help="read the Admin API key from this Secrets Manager secret instead of ANTHROPIC_ADMIN_API_KEY")
    run.add_argument("--base-url", default=None, help="Admin API base URL (default: ANTHROPIC_BASE_URL or https://api.anthropic.com)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.set_defaults(command=_run)

    demo = add("demo", help="start the simulator, back-fill the last N days into ./lake, print totals",
                          description="Start the project's Admin API simulator on 127.0.0.1, back-fill the last N days "
                          "(today included) into a local lake over real HTTP, then print what was written, token totals, "
                          "and spend by day and model, checked against the simulator's own totals.")
    demo.add_argument("--lake", default=DEFAULT_LOCAL_LAKE, help=f"local lake folder (default: {DEFAULT_LOCAL_LAKE})")
    demo.add_argument("--days", type=_positive, default=7, help="how many days back to fill (default: 7)")
    demo.set_defaults(command=_demo)

    simulate = add("simulate", help="run the Admin API simulator alone, on a port",
                              description="Serve the synthetic organization over HTTP until interrupted. Point a run at it "
                              "with ANTHROPIC_BASE_URL and the admin key it prints.")
    simulate.add_argument("--port", type=_port, default=8765, help="TCP port on 127.0.0.1 (default: 8765; 0: any free port)")
    simulate.add_argument("--org", choices=("small", "large"), default="small", help="small: the demo org; large: 1,000 API keys x 10 models")
    simulate.add_argument("--faults", default="", help="fault mix, e.g. '429:0.2,503:0.1,drop:0.05' (see usage_lake.simulator.faults)")
    simulate.set_defaults(command=_simulate)

    rebuild = add("rebuild", help="rebuild curated days from the raw pages, without calling the API",
                             description="Re-create the curated Parquet of each day from the raw pages of the latest run "
                             "that completed it (after a transform fix, or if curated objects were lost).")
    _lake_option(rebuild)
    rebuild.add_argument("--start", type=_day, required=True)
    rebuild.add_argument("--end", type=_day, required=True, help="exclusive")
    rebuild.add_argument("--reports", default=",".join(registry.names()))
    rebuild.set_defaults(command=_rebuild)

    summary = add("summary", help="token totals and spend by day and model")
    _lake_option(summary)
    summary.add_argument("--days", type=_positive, default=7, help="how many days back, today included (default: 7)")
    summary.set_defaults(command=_summary)

    alerts = add("alerts", help="every budget and threshold: figure, %% used, forecast, and which alerts were sent or would fire",
                            description="Read the lake and show billed and estimated spend per day against DAILY_SPEND_THRESHOLD_USD, "
                            "month to date against MONTHLY_BUDGET_USD, today so far against SPIKE_RATIO x the same hours of the trailing days, "
                            "and every budget of BUDGETS over each open period (figure, %% used, forecast); for each alert, whether it was "
                            "sent (and when) or would fire on the next incremental run. Sends nothing.")
    _lake_option(alerts)
    alerts.add_argument("--days", type=_positive, default=7, help="how many days back, today included (default: 7)")
    alerts.add_argument("--json", action="store_true", help="print every budget's state as JSON (a list of objects)")
    alerts.set_defaults(command=_alerts)

    runs = add("runs", help="show the most recent runs from the run log")
    _lake_option(runs)
    runs.add_argument("--limit", type=_positive, default=10, help="how many runs, newest first (default: 10)")
    runs.set_defaults(command=_runs)
    return parser


def _lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", default=None,
                        help="s3://bucket/prefix or a local folder (default: LAKE_BUCKET/LAKE_PREFIX if set, else ./lake)")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a UTC day YYYY-MM-DD, got {value!r}") from None


def _positive(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _port(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 0 to 65535, got {value!r}")
    return int(value)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env(os.environ)
    if getattr(args, "base_url", None):
        settings = replace(settings, base_url=Settings.from_env({"ANTHROPIC_BASE_URL": args.base_url}).base_url)
    return settings


def _lake(args: argparse.Namespace, settings: Settings, *, reading: bool = False) -> Lake:
    """The lake of --lake, else LAKE_BUCKET/LAKE_PREFIX, else ./lake. A reading command (`reading`) refuses a
    location that holds no lake, so a mistyped path never reads as $0 of spend."""
    if args.lake:
        lake = open_lake(args.lake)
    elif settings.lake_bucket:
        lake = open_lake(f"s3://{settings.lake_bucket}/{settings.lake_prefix}")
    else:
        lake = open_lake(DEFAULT_LOCAL_LAKE)
    if reading:
        check_lake(lake)
    return lake


def _admin_key(args: argparse.Namespace) -> AdminKey:
    if args.secret_id:
        return admin_key_from_secret(args.secret_id)
    value = os.environ.get("ANTHROPIC_ADMIN_API_KEY")
    if not value:
        raise CliError("no Admin API key: set ANTHROPIC_ADMIN_API_KEY, or pass --secret-id (or set ADMIN_KEY_SECRET_ID)")
    return admin_key_from_text(value, source="ANTHROPIC_ADMIN_API_KEY")


def _request(args: argparse.Namespace) -> RunRequest:
    event: dict[str, Any] = {"reports": [r.strip() for r in args.reports.split(",") if r.strip()]}
    if args.start or args.end:
        if not (args.start and args.end):
            raise CliError("a backfill needs both --start and --end")
        event |= {"mode": "backfill", "start": args.start.isoformat(), "end": args.end.isoformat()}
    else:
        event["mode"] = "incremental"
    if getattr(args, "now", None):
        event["now"] = args.now
    return parse_event(event)


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    lake = _lake(args, settings)
    request = _resumed(args, lake, _request(args))
    key = _admin_key(args)
    started: list[RunRecord] = []
    previous = signal.signal(signal.SIGTERM, _terminate)  # SIGTERM ends the run like Ctrl-C: recorded, resumable
    try:
        with Progress(sys.stderr) as progress:
            records = run_to_completion(request, settings=settings, key=key, lake=lake, progress=progress,
                                        publisher=_publisher(settings, lake), on_start=started.append)
    except KeyboardInterrupt:
        record = started[-1] if started else None
        where = f"; run the same command again (or `usage-lake run --resume`) to carry on from {record.resume_from}" \
            if record and record.resume_from and record.mode == Mode.BACKFILL else ""
        what = f"interrupted by {record.error_type}" if record and record.error_type else "interrupted"
        print(f"usage-lake: {what}; days already written are complete, the rest was not written{where}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    last = records[-1]
    if args.json:
        print(json.dumps([r.summary() for r in records] if len(records) > 1 else last.summary(), indent=2))
    else:
        for record in records:
            print(_describe_run(record, lake))
    return 0 if last.outcome == "succeeded" else 1


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted("SIGTERM")


def _resumed(args: argparse.Namespace, lake: Lake, request: RunRequest) -> RunRequest:
    """A backfill of a range whose last run stopped early carries on from there (unless --restart); `--resume`
    alone picks up the latest interrupted backfill."""
    if args.restart or (request.mode != Mode.BACKFILL and not args.resume):
        return request
    if request.mode != Mode.BACKFILL:  # --resume without a range
        if args.now:
            raise CliError("--resume carries on a backfill; --now is for incremental runs")
        point = find_resume_point(lake, datetime.now(UTC))
        if point is None:
            raise CliError(f"nothing to resume: the run log of {lake.uri()} has no interrupted or failed backfill")
        request = parse_event({"mode": "backfill", "start": point.start.isoformat(), "end": point.end.isoformat(),
                               "reports": list(point.reports)})
    else:
        point = find_resume_point(lake, datetime.now(UTC), start=request.start, end=request.end, reports=request.reports)
        if point is None:
            if args.resume:
                raise CliError(f"nothing to resume for {request.start}..{request.end}: its last run did not stop early "
                               "(run it without --resume to fetch it again)")
            return request
    print(f"usage-lake: resuming {point.start}..{point.end} from {point.day} (run {point.run_id} was {point.outcome}; "
          "the days before are in the lake). --restart fetches the whole range.", file=sys.stderr)
    return replace(request, start=point.day, origin=point.start, continues=point.run_id)


def _publisher(settings: Settings, lake: Lake) -> Publisher | None:
    """SNS when ALERT_TOPIC_ARN is set; otherwise alerts land in the lake's outbox (alerts/outbox/)."""
    from usage_lake.alerts.publishers import OutboxPublisher, SnsPublisher

    if settings.alert_topic_arn:
        return SnsPublisher(settings.alert_topic_arn)
    return OutboxPublisher(lake) if settings.alerts_enabled else None


def _describe_run(record: RunRecord, lake: Lake) -> str:
    lines = [
        f"run {record.run_id}: {record.outcome} ({record.mode}) in {record.duration_seconds or 0:.1f} s",
        f"  {record.requests} requests, {record.pages} pages, {record.retries} retries",
    ]
    for report in record.reports:
        written = [d for d in record.days if d.report == report and d.action == "written"]
        lines.append(f"  {report}: {record.rows(report):,} rows in {len(written)} day(s)")
    lines += [f"  note: {note}" for note in record.notes]
    if record.next_event:
        lines.append(f"  continues with: {json.dumps(record.next_event)}")
    lines.append(f"  lake: {lake.uri()}")
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    from usage_lake.app.demo import run_demo

    return run_demo(lake_dir=args.lake, days=args.days, out=sys.stdout)


def _simulate(args: argparse.Namespace) -> int:
    from usage_lake.simulator import FaultPlan, SimulatedOrg, Simulator

    org = SimulatedOrg.large() if args.org == "large" else SimulatedOrg.small()
    try:
        sim = Simulator(org, port=args.port)
    except OSError as exc:
        raise CliError(f"cannot serve the simulator on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                       "(another process, or another simulator, holds the port?); pick another with --port") from None
    if args.faults:
        sim.faults = FaultPlan.from_spec(args.faults)
    sim.start()
    print(f"Admin API simulator ({args.org} org) on {sim.base_url}", flush=True)
    print(f"  export ANTHROPIC_BASE_URL={sim.base_url}")
    print(f"  export ANTHROPIC_ADMIN_API_KEY={sim.admin_key}   # the simulator's own key, not a real one")
    print("Ctrl-C stops it.", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from usage_lake.app.jobs import rebuild

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    reports = [r.strip() for r in args.reports.split(",") if r.strip()]
    results = rebuild(lake, settings, reports=reports, start=args.start, end=args.end)
    for result in results:
        print(f"{result.report} {result.day}: {result.action} {result.rows:,} rows")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from usage_lake.reporting import spend_and_tokens

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    today = datetime.now(UTC).date()
    print(spend_and_tokens(lake, [today - timedelta(days=i) for i in range(args.days - 1, -1, -1)]))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from usage_lake.alerts import Alerting

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    now = datetime.now(UTC)
    alerting = Alerting(lake, settings, publisher=_NoPublisher(), run_id="status", clock=lambda: now)
    if args.json:
        print(json.dumps(alerting.budget_rows(now), indent=2))
        return 0
    days = [now.date() - timedelta(days=i) for i in range(args.days - 1, -1, -1)]
    print("\n".join(alerting.status(days, now)))
    return 0


class _NoPublisher:
    def publish(self, alert) -> str:  # pragma: no cover - status never delivers
        raise RuntimeError("usage-lake alerts only reads; alerts are sent by incremental runs")


def _runs(args: argparse.Namespace) -> int:
    from usage_lake.reporting import recent_runs

    settings = _settings(args)
    now = datetime.now(UTC)
    print(recent_runs(_lake(args, settings, reading=True), limit=args.limit, outcome=lambda run: effective_outcome(run, now)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
