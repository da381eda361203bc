"""`usage-lake`: run, back-fill, rebuild and inspect the lake from a terminal.

The CLI reads the same environment variables as the Lambda (see the README's settings table); flags override
them. The key comes from ANTHROPIC_ADMIN_API_KEY, or from Secrets Manager with --secret-id.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from usage_lake import __version__
from usage_lake.alerts import Publisher
from usage_lake.app.jobs import check_settings_files, parse_event
from usage_lake.app.runner import Progress, configure_logging, flush_repeated_warnings, run_to_completion
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
  usage-lake summary --lake ./lake
  usage-lake report daily --lake ./lake --days 30 --format csv --out daily.csv
  usage-lake report html --lake ./lake --out report.html
  usage-lake export usage_messages --lake ./lake --start 2026-11-01 --end 2026-12-01 --format parquet --out usage.parquet
  usage-lake sql "SELECT dt, sum(amount_usd) FROM cost_report WHERE dt >= '2026-11-01' GROUP BY dt" --lake ./lake
  usage-lake runs --lake ./lake
"""


VERBOSE_HELP = "log every day, page and retry (to stderr)"
QUIET_HELP = "print only the result and errors (no notes, no warnings)"
MAX_DAYS = 3660  # ten years: more than the Admin API has, and far from date arithmetic's limits
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class CliError(UsageLakeError):
    """A problem the user can fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:
        print("usage-lake: error: -v/--verbose and -q/--quiet contradict each other; give one", file=sys.stderr)
        return 2
    configure_logging(verbose=args.verbose, quiet=args.quiet, stream=sys.stderr)
    final: str | None = None
    try:
        code = args.command(args)
        sys.stdout.flush()  # a closed pipe (`usage-lake summary | head`) shows here, not at exit
        return code
    except UsageLakeError as exc:
        final = _one_line(exc)
        return _fail(f"usage-lake: error: {final}", 2, final)
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        # the reader went away (head, less): nothing more to say; keep Python from complaining when it flushes at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe cut short
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user: one line, and the details behind -v
        if _query_interrupted(exc):  # Ctrl-C while DuckDB runs a query
            return _interrupted()
        if args.verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        final = _one_line(exc)
        return _fail(f"usage-lake: internal error: {type(exc).__name__}: {final} (run again with -v for the details; "
                     "please report it)", 1, final)
    finally:
        if final is None:
            flush_repeated_warnings()


def _fail(line: str, code: int, final: str) -> int:
    """The held log errors (not the one this is), then the one line."""
    flush_repeated_warnings(final)
    print(line, file=sys.stderr)
    return code


def _interrupted() -> int:
    print("usage-lake: interrupted; days already written are complete, the rest was not written", file=sys.stderr)
    return 130


def _query_interrupted(exc: BaseException) -> bool:
    """DuckDB turns Ctrl-C during a query into its own exception (`InterruptException`, or `RuntimeError: Query
    interrupted` in older releases)."""
    return type(exc).__name__ == "InterruptException" or "query interrupted" in str(exc).lower()


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines) if len(lines) <= 3 else lines[0]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (`usage-lake report: error: ...`), exit 2, no usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="usage-lake",
        description="Anthropic Admin API usage and cost reports into an S3 + Athena (or local) lake.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    # -v/-q work after the command too (`usage-lake run -v`); SUPPRESS keeps the one given before it otherwise
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND", parser_class=_Parser)
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
    demo.add_argument("--days", type=_days, default=7, help="how many days back to fill (default: 7)")
    demo.set_defaults(command=_demo)

    simulate = add("simulate", help="run the Admin API simulator alone, on a port",
                              description="Serve the synthetic organization over HTTP until interrupted. Point a run at it "
                              "with ANTHROPIC_BASE_URL and the admin key it prints.")
    simulate.add_argument("--port", type=_port, default=8765, help="TCP port on 127.0.0.1 (default: 8765; 0: any free port)")
    simulate.add_argument("--org", choices=("small", "large", "hostile"), default="small",
                          help="small: the demo org; large: 1,000 API keys x 10 models; hostile: the small org with hostile names")
    simulate.add_argument("--faults", default="", help="fault mix, e.g. '429:0.2,503:0.1,drop:0.05' (see usage_lake.simulator.faults)")
    simulate.add_argument("--cost-report", choices=("2026", "2025"), default="2026",
                          help="2025: the cost report's token rows leave inference_geo null, as before it had one (default: 2026)")
    simulate.set_defaults(command=_simulate)

    rebuild = add("rebuild", help="rebuild curated days from the raw pages, without calling the API",
                             description="Re-create the curated Parquet of each day from the raw pages of the latest run "
                             "that completed it (after a transform fix, or if curated objects were lost).")
    _lake_option(rebuild)
    rebuild.add_argument("--start", type=_day, required=True, help="first UTC day (YYYY-MM-DD)")
    rebuild.add_argument("--end", type=_day, required=True, help="day after the last one (exclusive)")
    rebuild.add_argument("--reports", default=",".join(registry.names()), help=f"comma-separated subset of: {','.join(registry.names())} (default: all)")
    rebuild.set_defaults(command=_rebuild)

    summary = add("summary", help="short for `report summary` (all time, today, 7 and 30 days, month to date), after every day of --days",
                  description="Short for `usage-lake report summary` (--days N adds a 'last N days' row). As a table it starts with "
                  "every day of the last --days days (default 7): tokens and billed spend, each day marked no data / not "
                  "billed yet / no cost data.")
    _lake_option(summary)
    summary.add_argument("--days", type=_days, default=None,
                         help="the days listed first, and a 'last N days' row (default: 7 days listed, no extra row)")
    summary.add_argument("--now", help="pin the clock (RFC 3339): what 'today' is, for replays")
    _output_options(summary)
    summary.set_defaults(command=_summary, view="summary", start=None, end=None, by="project")

    alerts = add("alerts", help="every budget and threshold: figure, %% used, forecast, and which alerts were sent or would fire",
                            description="Read the lake and show billed and estimated spend per day against DAILY_SPEND_THRESHOLD_USD, "
                            "month to date against MONTHLY_BUDGET_USD, today so far against SPIKE_RATIO x the same hours of the trailing days, "
                            "and every budget of BUDGETS over each open period (figure, %% used, forecast); for each alert, whether it was "
                            "sent (and when) or would fire on the next incremental run. Sends nothing.")
    _lake_option(alerts)
    alerts.add_argument("--days", type=_days, default=7, help="how many days back, today included (default: 7)")
    _output_options(alerts, json_help="json: every budget's state (a list of objects); csv: the rows of `report alerts`")
    alerts.set_defaults(command=_alerts)

    _add_report_commands(sub, common)
    _add_prices_command(add)

    purge = add("purge", help="erase one e-mail address from every curated day and raw page of the lake (docs/privacy.md)",
                description="Erase an e-mail address from the lake: the users and invites rows that hold it are removed, the "
                "Claude Code rows keep their figures with the address nulled, and every raw page that holds it is rewritten "
                "in place. Prints each object it rewrote. A lake with PERSONAL_DATA=hash is searched for the address's hash "
                "too (its key: PERSONAL_DATA_KEY, else the Admin key of ANTHROPIC_ADMIN_API_KEY / --secret-id). On S3, earlier "
                "versions of the objects stay until NoncurrentVersionExpirationDays has passed.")
    _lake_option(purge)
    purge.add_argument("--email", required=True, help="the address to erase (any case)")
    purge.add_argument("--secret-id", default=os.environ.get("ADMIN_KEY_SECRET_ID"),
                       help="the Admin key's Secrets Manager secret (the hash key of a PERSONAL_DATA=hash lake)")
    purge.set_defaults(command=_purge)

    runs = add("runs", help="show the most recent runs from the run log")
    _lake_option(runs)
    runs.add_argument("--limit", type=_positive, default=10, help="how many runs, newest first (default: 10)")
    runs.add_argument("--wide", action="store_true", help="every column (default: the few that fit 80 columns)")
    runs.add_argument("--format", choices=("table", "json"), default="table", help="json: one object per run (default: table)")
    runs.add_argument("--json", dest="format", action="store_const", const="json", help="short for --format json")
    runs.set_defaults(command=_runs)
    return parser


def _lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", default=None,
                        help="s3://bucket/prefix or a local folder (default: LAKE_BUCKET/LAKE_PREFIX if set, else ./lake)")


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"expected a UTC day YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}, got {value!r}")
    return day


def _days(value: str) -> int:
    days = _positive(value)
    if days > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DAYS} days (ten years), got {value!r}")
    return days


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
    check_settings_files(settings)  # in a terminal a bad BUDGETS or LABELS file is refused before the run starts
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

    try:
        faults = FaultPlan.from_spec(args.faults) if args.faults else None
    except ValueError as exc:
        raise CliError(f"--faults: {exc}") from None
    org = SimulatedOrg.large() if args.org == "large" else SimulatedOrg.hostile() if args.org == "hostile" else SimulatedOrg.small()
    org.cost_inference_geo = args.cost_report != "2025"
    try:
        sim = Simulator(org, port=args.port)
    except OSError as exc:
        raise CliError(f"cannot serve the simulator on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                       "(another process, or another simulator, holds the port?); pick another with --port") from None
    if faults is not None:
        sim.faults = faults
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
    from usage_lake.lake.curated import DayAction

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    reports = [r.strip() for r in args.reports.split(",") if r.strip()]
    if args.end <= args.start:
        raise CliError(f"--end ({args.end}) must be after --start ({args.start}); --end is exclusive")
    results = rebuild(lake, settings, reports=reports, start=args.start, end=args.end)
    if all(result.action == DayAction.NO_RAW for result in results):
        raise CliError(f"nothing to rebuild: {lake.uri()} holds no raw pages of {', '.join(reports)} for "
                       f"{args.start}..{args.end} (end exclusive); fetch them with `usage-lake run --start ... --end ...`")
    for result in results:
        print(f"{result.report} {result.day}: {result.action} {result.rows:,} rows")
    return 0


def _summary(args: argparse.Namespace) -> int:
    """`report summary`; as a table for people, headed by every day of the range (none hidden, each marked)."""
    if args.format == "table" and not args.out:
        from usage_lake.reporting import spend_and_tokens

        settings = _settings(args)
        lake = _lake(args, settings, reading=True)
        today = _clock(args).date()
        print(spend_and_tokens(lake, [today - timedelta(days=i) for i in range((args.days or 7) - 1, -1, -1)], width=_width(args)),
              end="\n\n")
    return _report(args)


def _alerts(args: argparse.Namespace) -> int:
    from usage_lake.alerts import Alerting

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    now = datetime.now(UTC)
    if args.out:
        _check_out(args.out)
        _outside_lake(args.out, lake)
    if args.format == "csv":
        from usage_lake.app.report_alerts import alerts_view

        _write(_render(alerts_view(lake, settings, now, args.days), args), args.out)
        return 0
    alerting = Alerting(lake, settings, publisher=_NoPublisher(), run_id="status", clock=lambda: now)
    if args.format == "json":
        _write(json.dumps(alerting.budget_rows(now), indent=2) + "\n", args.out)
        return 0
    days = [now.date() - timedelta(days=i) for i in range(args.days - 1, -1, -1)]
    lines = alerting.status(days, now, width=_width(args), wide=args.wide)
    _write("\n".join(lines[:args.limit] if args.limit else lines) + "\n", args.out)
    return 0


class _NoPublisher:
    def publish(self, alert) -> str:  # pragma: no cover - status never delivers
        raise RuntimeError("usage-lake alerts only reads; alerts are sent by incremental runs")


def _purge(args: argparse.Namespace) -> int:
    from usage_lake.app.jobs import personal_data
    from usage_lake.lake.personal import purge_email

    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    address = args.email.strip()
    if "@" not in address or any(c.isspace() or not c.isprintable() for c in address):
        raise CliError(f"--email: expected one e-mail address, got {address!r}")
    key = None
    if not settings.personal_data_key and (args.secret_id or os.environ.get("ANTHROPIC_ADMIN_API_KEY")):
        key = _admin_key(args)
    personal = personal_data(replace(settings, personal_data="hash"), key)
    purged = purge_email(lake, address, personal if personal.key else None)
    for key_name in purged.objects:
        print(f"rewrote {key_name}")
    print(f"{len(purged.objects)} object(s) rewritten: {purged.rows} curated row(s) and {purged.records} raw record(s) held the address"
          + ("" if personal.key else " (no hash key: only the address itself was looked for)"))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from usage_lake.reporting import recent_runs

    settings = _settings(args)
    now = datetime.now(UTC)
    lake = _lake(args, settings, reading=True)
    if args.format == "json":
        from usage_lake.lake.curated import read_parquet
        from usage_lake.lake.layout import RUNS_TABLE

        keys = sorted(lake.list(f"{RUNS_TABLE}/"), key=lambda k: k.rsplit("/", 1)[-1])[-args.limit:]
        runs = [read_parquet(lake.get(key), table=RUNS_TABLE).to_pylist()[0] for key in reversed(keys)]
        rows = [{**run, "outcome": effective_outcome(run, now)} for run in runs]
        print(json.dumps(rows, indent=2, default=_json_value))
        return 0
    print(recent_runs(lake, limit=args.limit, outcome=lambda run: effective_outcome(run, now), width=_width(args), wide=args.wide))
    return 0


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)  # dates, decimals: exact text


# -- prices (issue 19): the list in force, observed vs list, unpriced models ---------------------------------

def _add_prices_command(add: functools.partial[Any]) -> None:
    prices = add("prices", help="list prices in force on a day, the prices the bill shows beside them, unpriced models",
                 description="The price table in force on --on (default: today), with PRICING_OVERRIDES applied; the most "
                 "recent unit price the bill shows per model, token type, tier, context window and geo (observed_prices) "
                 "beside the list price; and models in the last 30 days of usage with no price at all.")
    _lake_option(prices)
    prices.add_argument("--on", type=_day, help="the UTC day whose prices to show (default: today)")
    _output_options(prices)
    prices.set_defaults(command=_prices)


def _prices(args: argparse.Namespace) -> int:
    from usage_lake.money import load_prices
    from usage_lake.reporting.prices import prices_view

    settings = _settings(args)
    found = _lake(args, settings)
    lake: Lake | None = found
    try:
        check_lake(found)
    except UsageLakeError:
        if args.lake:  # a lake named on the command line must be one
            raise
        lake = None  # no lake here: the list prices alone
    if lake is not None and args.out:
        _outside_lake(args.out, lake)
    _write(_render(prices_view(load_prices(settings.pricing_overrides), args.on or datetime.now(UTC).date(), lake), args), args.out)
    return 0


# -- reports: report VIEW, export, sql (the logic lives in usage_lake.reporting) ----------------------------

REPORT_VIEWS = ("summary", "daily", "models", "workspaces", "keys", "projects", "claude-code", "reconcile", "headroom", "alerts", "html")


def _add_report_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from usage_lake.reporting.export import EXPORTABLE

    report = sub.add_parser(
        "report", parents=[common], help="views of the lake as a table, CSV or JSON, or a self-contained HTML report with charts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read the lake (local or s3://) and show one view. --format table is for people (names, cents, totals); "
        "csv and json carry every column with ids beside names and exact decimals.\n\n"
        "  summary      all time, today, last 7 and 30 days, month to date: billed, estimated, the alert figure, tokens\n"
        "  daily        one row per UTC day: billed, estimated, Priority Tier estimate, tokens, status\n"
        "  models       tokens by kind, cache hit rate, billed and estimated per model\n"
        "  workspaces   billed and estimated per workspace\n"
        "  keys         estimated and tokens per API key (the cost report has no per-key cost)\n"
        "  projects     estimated and tokens per label value (--by team; default: project)\n"
        "  claude-code  per user: sessions, lines, commits, PRs, tool accept rate, estimated cost\n"
        "  alerts       each rule with its figure, threshold, % used, and sent / would fire\n"
        "  html         one offline HTML file: charts and every view's table (--out, default report.html)")
    report.add_argument("view", choices=REPORT_VIEWS, metavar="VIEW", help=", ".join(REPORT_VIEWS))
    _report_options(report)

    export = sub.add_parser("export", parents=[common], help="one lake table over a dt range to CSV, JSON or Parquet (names and labels joined in)",
                            description="Write one table of the lake, days [--start, --end), to a file: exact decimals, UTC ISO "
                            "timestamps, workspace and API key names and label_<key> columns joined in (--ids-only to skip).")
    export.add_argument("table", choices=EXPORTABLE, metavar="TABLE", help=", ".join(EXPORTABLE))
    _lake_option(export)
    export.add_argument("--start", type=_day, required=True, help="first UTC day (YYYY-MM-DD)")
    export.add_argument("--end", type=_day, required=True, help="day after the last one (exclusive)")
    export.add_argument("--format", choices=("csv", "json", "parquet"), default="csv", help="the file's format (default: csv)")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--ids-only", action="store_true", help="leave out the name and label columns")
    export.add_argument("--raw-csv", action="store_true", help="csv: cells exactly as stored (no quote before a leading = + - @)")
    export.set_defaults(command=_export)

    sql = sub.add_parser("sql", parents=[common], help="Athena SQL over the lake, run locally by DuckDB (same table names and columns)",
                         description="Run one reading Athena (Trino) SQL statement over the lake with DuckDB: the Glue tables' "
                         "names and columns. Only SELECT, WITH, VALUES, DESCRIBE, SHOW and EXPLAIN run, one statement at a time, "
                         "and only the lake's own files can be read. For an s3:// lake only the partitions a top-level AND of "
                         "its dt predicates allows are fetched (else every day of the tables it reads; or those of --start/--end). "
                         "Dates are UTC dates.")
    sql.add_argument("query", nargs="?", help="the statement (or --file)")
    sql.add_argument("--file", help="read the statement from a file, e.g. infra/queries/daily_spend.sql")
    sql.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="fill ${NAME} as the template does (MonthlyBudgetUsd defaults to MONTHLY_BUDGET_USD)")
    _lake_option(sql)
    sql.add_argument("--start", type=_day, help="read only partitions from this UTC day")
    sql.add_argument("--end", type=_day, help="... up to this day (exclusive)")
    _output_options(sql)
    sql.add_argument("--now", help="pin current_date / current_timestamp (RFC 3339), for replays")
    sql.add_argument("--aws-focus", metavar="PATH", help="a local copy of the AWS FOCUS 1.2 export (Parquet): adds the focus_all and "
                     "claude_spend_all views, as in Athena")
    sql.set_defaults(command=_sql)


def _report_options(parser: argparse.ArgumentParser) -> None:
    _lake_option(parser)
    parser.add_argument("--start", type=_day, help="first UTC day of the range (YYYY-MM-DD)")
    parser.add_argument("--end", type=_day, help="day after the last one (exclusive, as in `run`)")
    parser.add_argument("--days", type=_days, help="the last N UTC days, today included (default: 30, or 7 for the alerts view)")
    parser.add_argument("--by", default="project", help="projects: the label key to group by (default: project)")
    parser.add_argument("--no-people", action="store_true",
                        help="html: leave the per-person sections (Claude Code per user) out (also REPORT_NO_PEOPLE=true)")
    parser.add_argument("--now", help="pin the clock (RFC 3339): what 'today' is, for replays")
    _output_options(parser, out_help="write to this file instead of standard output (html: default report.html)")
    parser.set_defaults(command=_report)


def _output_options(parser: argparse.ArgumentParser, *, json_help: str = "", out_help: str = "") -> None:
    """The flags every reading command shares: --format (--json), --wide, --raw-csv, --limit, --out."""
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table for people; csv and json carry every column, exact" + (f"; {json_help}" if json_help else "")
                        + " (default: table)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="short for --format json")
    parser.add_argument("--wide", action="store_true", help="table: every column, however wide the terminal")
    parser.add_argument("--raw-csv", action="store_true", help="csv: cells exactly as stored (no quote before a leading = + - @)")
    parser.add_argument("--limit", type=_positive, default=None, help="table: at most N rows, then how many more (default: 1,000)")
    parser.add_argument("--out", help=out_help or "write to this file instead of standard output")


def _clock(args: argparse.Namespace) -> datetime:
    if getattr(args, "now", None):
        from usage_lake.times import parse_timestamp

        try:
            return parse_timestamp(args.now)
        except ValueError as exc:
            raise CliError(f"--now: {exc}") from None
    return datetime.now(UTC)


def _window(args: argparse.Namespace, today: date, default_days: int):  # noqa: ANN202 - reporting.views.Window
    from usage_lake.reporting.views import Window

    if args.start or args.end:
        if not (args.start and args.end):
            raise CliError("a range needs both --start and --end (or use --days)")
        if args.days is not None:
            raise CliError("give either --start/--end or --days, not both")
        if args.end <= args.start:
            raise CliError(f"--end ({args.end}) must be after --start ({args.start}); --end is exclusive")
        return Window(args.start, args.end, today)
    days = default_days if args.days is None else args.days
    if days < 1:
        raise CliError(f"--days must be at least 1 (got {days})")
    return Window.last(days, today)


def _check_out(out: str) -> Path:
    """`--out` as given, checked before anything is read: its folder exists and can be written, and it is not a
    folder itself. One line for each mistake; nothing is written."""
    path = Path(out)
    if not out.strip():
        raise CliError("--out is empty: give a file name")
    if path.is_dir():
        raise CliError(f"--out {out} is a folder: give a file name inside it")
    parent = path.parent
    if not parent.exists():
        missing = next(p for p in [parent, *parent.parents] if not p.exists())
        if any(p.exists() and not p.is_dir() for p in parent.parents):
            raise CliError(f"--out {out}: {next(p for p in parent.parents if p.exists() and not p.is_dir())} is a file, not a folder")
        raise CliError(f"--out {out}: the folder {missing} does not exist (create it first)")
    if not parent.is_dir():
        raise CliError(f"--out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"--out {out}: cannot write in {parent} (permission denied)")
    return path


def _outside_lake(out: str, lake: Lake) -> None:
    """A file written by a reading command never lands in the lake (it would replace or add to its data)."""
    from usage_lake.lake.store import LocalLake

    if isinstance(lake, LocalLake):
        target, root = Path(out).resolve(), Path(lake.root).resolve()
        if target == root or root in target.parents:
            raise CliError(f"--out {out} is inside the lake {lake.uri()}: write reports and exports elsewhere")


def _write(text: str, out: str | None) -> None:
    """Standard output, or the file `out` written whole: a temporary file beside it, moved into place."""
    if not out:
        sys.stdout.write(text)
        return
    path = _check_out(out)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise CliError(f"cannot write --out {out}: {(exc.strerror or str(exc)).lower()}") from None
    finally:
        tmp.unlink(missing_ok=True)
    _note(f"wrote {path}")


def _note(text: str) -> None:
    """A line about what was done (not the result) to stderr; -q silences it."""
    if logging.getLogger().level <= logging.WARNING:
        print(text, file=sys.stderr)


def _render(view: Any, args: argparse.Namespace) -> str:
    from usage_lake.reporting.formats import render

    return render(view, args.format, wide=args.wide, raw_csv=args.raw_csv, limit=args.limit, width=_width(args))


def _width(args: argparse.Namespace) -> int | None:
    """The terminal's width when a table goes to a terminal; None (full values) when piped or written with --out."""
    if getattr(args, "out", None) or not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def _report(args: argparse.Namespace) -> int:
    from usage_lake.reporting import views
    from usage_lake.reporting.query import require_data

    if args.out:
        _check_out(args.out)
    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    if args.out or args.view == "html":
        _outside_lake(args.out or "report.html", lake)
    now = _clock(args)
    today = now.date()
    if args.view == "alerts":
        from usage_lake.app.report_alerts import alerts_view

        require_data(lake)
        window = _window(args, today, 7)
        if window.end != today + timedelta(days=1):
            raise CliError("alerts: the rules look back from today; use --days N")
        _write(_render(alerts_view(lake, settings, now, window.days), args), args.out)
        return 0
    if args.view == "html":
        return _report_html(args, settings, lake, now)
    require_data(lake)
    if args.view == "summary":
        if args.start or args.end:
            raise CliError("summary covers fixed periods up to today; use report daily for a range")
        with views.open_for(lake, None, tables=("usage_messages", "cost_report")) as db:
            view = views.summary(db, today, extra_days=args.days)
    elif args.view in ("reconcile", "headroom"):  # issue 18: reporting.analytics_views
        from usage_lake.reporting import analytics_views

        window = _window(args, today, 30 if args.view == "reconcile" else 7)
        tables = analytics_views.RECONCILE_TABLES if args.view == "reconcile" else analytics_views.HEADROOM_TABLES
        with views.open_for(lake, window, tables=tables) as db:
            view = (analytics_views.reconcile if args.view == "reconcile" else analytics_views.headroom)(db, window)
    else:
        window = _window(args, today, 30)
        with views.open_for(lake, window, tables=views.TABLES_OF[args.view]) as db:
            view = {
                "daily": lambda: views.daily(db, window),
                "models": lambda: views.models(db, window),
                "workspaces": lambda: views.workspaces(db, window),
                "keys": lambda: views.keys(db, window),
                "projects": lambda: views.projects(_current_labels(db, settings, lake, today), window, args.by),
                "claude-code": lambda: views.claude_code(db, window),
            }[args.view]()
    _write(_render(view, args), args.out)
    return 0


def _current_labels(db: Any, settings: Settings, lake: Lake, today: date) -> Any:
    """While LABELS (or the agent map) is set in this shell, the labels in force are the setting's: what the next run
    writes (a budget and `report projects` then agree before it runs)."""
    from usage_lake.lake.snapshots import SnapshotReader
    from usage_lake.sources.labels import current_labels

    labels = current_labels(settings, SnapshotReader(lake), today)
    if labels is not None:
        db.con.register("current_labels", labels)
        db.con.execute('CREATE OR REPLACE VIEW "labels" AS SELECT * FROM current_labels')
        db.present["labels"] = [today.isoformat()]
    return db


def _report_html(args: argparse.Namespace, settings: Settings, lake: Lake, now: datetime) -> int:
    from usage_lake.app.report_alerts import alerts_view
    from usage_lake.reporting.html import build_report, render_html
    from usage_lake.reporting.query import require_data

    out = args.out or "report.html"
    _check_out(out)
    if args.format != "table":
        raise CliError("report html writes one HTML file; --format is for the other views")
    require_data(lake)
    if args.start or args.end:
        raise CliError("report html covers the last --days N UTC days (default 30)")
    window = _window(args, now.date(), 30)
    report = build_report(lake, today=now.date(), days=window.days, budget=settings.monthly_budget_usd, label=args.by,
                          extra=[alerts_view(lake, settings, now, min(window.days, 7))],
                          people=not (getattr(args, "no_people", False) or settings.report_no_people))
    _write(render_html(report, lake_uri=lake.uri()), out)
    return 0


def _export(args: argparse.Namespace) -> int:
    from usage_lake.reporting.export import export_table
    from usage_lake.reporting.views import Window

    _check_out(args.out)
    settings = _settings(args)
    lake = _lake(args, settings, reading=True)
    _outside_lake(args.out, lake)
    if args.end <= args.start:
        raise CliError(f"--end ({args.end}) must be after --start ({args.start}); --end is exclusive")
    try:
        done = export_table(lake, args.table, Window(args.start, args.end, args.end), args.format, args.out, ids_only=args.ids_only,
                            raw_csv=args.raw_csv)
    except UsageLakeError:
        raise
    except Exception as exc:  # noqa: BLE001 - OSError, or DuckDB's IOException / PermissionException writing the file
        if isinstance(exc, OSError) or type(exc).__name__ in ("IOException", "PermissionException"):
            raise CliError(f"cannot write --out {args.out}: {_one_line(exc)}") from None
        raise
    _note(f"wrote {done.rows:,} {done.table} rows ({args.start} .. {args.end}, end exclusive) to {done.path}")
    return 0


def _sql(args: argparse.Namespace) -> int:
    from usage_lake.reporting.formats import write_result
    from usage_lake.reporting.query import sql_batches

    if args.out:
        _check_out(args.out)
    if bool(args.query) == bool(args.file):
        raise CliError("give the statement either as an argument or with --file")
    text = args.query
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise CliError(f"--file: {exc.strerror}: {args.file}") from None
    settings = _settings(args)
    params = {"MonthlyBudgetUsd": str(settings.monthly_budget_usd) if settings.monthly_budget_usd is not None else ""}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = value
    lake = _lake(args, settings, reading=True)
    if args.out:
        _outside_lake(args.out, lake)
    with sql_batches(lake, text, params=params, now=_clock(args) if args.now else None, start=args.start, end=args.end,
                     aws_focus=args.aws_focus) as stream:
        if stream.fetched_objects:
            _note(f"fetched {stream.fetched_objects} partition object(s), {stream.fetched_bytes / 1e6:.1f} MB, from {lake.uri()}")
        _write_stream(lambda out: write_result(stream.reader, args.format, out, raw_csv=args.raw_csv, limit=args.limit,
                                               width=_width(args)), args.out)
    return 0


def _write_stream(write: Callable[[Any], object], out: str | None) -> None:
    """`write(binary file)` to standard output, or to `out` under a temporary name moved into place (nothing
    half-written on failure): the rows stream through, never held whole. A query that fails while streaming is one line."""
    try:
        if not out:
            sys.stdout.flush()
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        path = _check_out(out)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except OSError as exc:
            raise CliError(f"cannot write --out {out}: {(exc.strerror or str(exc)).lower()}") from None
        finally:
            tmp.unlink(missing_ok=True)
    except UsageLakeError:
        raise
    except Exception as exc:  # noqa: BLE001 - DuckDB's error while the rows stream: its first line names the problem
        import pyarrow as pa

        if type(exc).__module__.split(".")[0] != "duckdb" and not isinstance(exc, pa.ArrowException):
            raise
        raise CliError(f"the query failed: {_one_line(exc)}") from None
    if out:
        _note(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
