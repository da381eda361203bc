"""Spend alerts: what passed a threshold, a message worth reading, and sending it exactly once.

Rules (each off unless set):
- daily threshold (`DAILY_SPEND_THRESHOLD_USD`): a complete day on its billed cost (cost report; the
  estimate until the cost report has the day), today on its estimated cost. One alert per (day, basis);
  when the billed figure confirms an earlier estimated alert, the billed alert is a follow-up naming both.
- monthly budget (`MONTHLY_BUDGET_USD`): month to date at 50%, 80% and 100% (the highest newly crossed
  one), and once a month when the linear forecast passes 100%, like AWS Budgets' ACTUAL and FORECASTED.
- spike (`SPIKE_RATIO`): today's estimate so far above that multiple of the trailing 7-day average.

Delivery state lives in the lake (`alerts/`): a run claims an attempt with an S3 conditional write (only
one run can create `alerts/claims/<key>/attempt-N.json`), publishes, then records `alerts/sent/<key>.json`.
A failed publish leaves a `.failed` marker so the next run claims attempt N+1: the alert is retried, never
repeated. Only a run that dies between publishing and recording could cause a repeat, after STALE_CLAIM.
"""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from usage_lake.alerts.figures import BILLED, ESTIMATED, DaySpend, Ranking, read_day
from usage_lake.config.settings import Settings
from usage_lake.lake.layout import alert_claim_key, alert_claims_prefix, alert_failed_key, alert_sent_key
from usage_lake.lake.names import Names
from usage_lake.lake.store import Lake
from usage_lake.money import usd
from usage_lake.times import format_timestamp

logger = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=15)
TRAILING_DAYS = 7
BUDGET_STEPS = (50, 80, 100)
FORECAST_AFTER_DAYS = 3  # a forecast from fewer whole days of the month is mostly noise
SENT, IN_PROGRESS, FAILED = "sent", "in_progress", "failed"
LEFT_OUT = ("Not included: Claude usage through Amazon Bedrock or Google Vertex AI (billed by those clouds), "
            "and discounts or credits not shown in the Admin API.")


@dataclass(frozen=True)
class Alert:
    key: str  # unique per alert ever sent, e.g. "daily/2026-11-21/billed"; also its place in alerts/
    kind: str  # daily | monthly | spike
    basis: str  # billed | estimated | forecast
    day: date
    severity: str  # info | warning | critical
    subject: str
    text: str
    document: dict[str, Any]  # the machine-readable form


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str:
        """Send the alert; return a message id; raise on failure."""


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already sent, or being sent by another run


class Alerting:
    """Evaluates the rules over a lake and delivers what fires. One instance per run."""

    def __init__(self, lake: Lake, settings: Settings, publisher: Publisher, *, run_id: str,
                 clock: Callable[[], datetime]) -> None:
        self.lake = lake
        self.settings = settings
        self.publisher = publisher
        self.run_id = run_id
        self.clock = clock
        self._days: dict[date, DaySpend] = {}
        self._names: Names | None = None

    def day(self, day: date) -> DaySpend:
        if day not in self._days:
            self._names = self._names or Names.load(self.lake)  # read once per run: every ranking shows names
            self._days[day] = read_day(self.lake, day, self._names)
        return self._days[day]

    # -- the rules --------------------------------------------------------------------------------

    def evaluate(self, days: list[date], now: datetime) -> list[Alert]:
        """The alerts the rules raise for these days (before de-duplication)."""
        today = now.date()
        alerts = []
        threshold = self.settings.daily_spend_threshold_usd
        if threshold is not None:
            for day in days:
                spend = self.day(day)
                basis = ESTIMATED if day >= today else spend.best_basis
                figure = spend.figure(basis) if basis else None
                if basis is not None and figure is not None and figure > threshold:
                    alerts.append(self._daily(spend, basis, figure, threshold, today))
        if self.settings.monthly_budget_usd is not None:
            alerts.extend(self._monthly(now, self.settings.monthly_budget_usd))
        if self.settings.spike_ratio is not None:
            alerts.extend(self._spike(now, self.settings.spike_ratio))
        return alerts

    def trailing_average(self, day: date) -> tuple[Decimal | None, int]:
        """Average daily spend over the 7 days before `day` that have data (billed, else estimated)."""
        figures = [f for d in range(1, TRAILING_DAYS + 1)
                   if (f := self._best(day - timedelta(days=d))) is not None]
        return (sum(figures, Decimal(0)) / len(figures), len(figures)) if figures else (None, 0)

    def month_to_date(self, now: datetime) -> tuple[Decimal, int]:
        """Spend from the 1st through now (complete days billed where possible, today estimated), days with data."""
        today = now.date()
        total, with_data = Decimal(0), 0
        for offset in range(today.day):
            day = today.replace(day=1) + timedelta(days=offset)
            figure = self.day(day).estimated_usd if day == today else self._best(day)
            if figure is not None:
                total += figure
                with_data += 1
        return total, with_data

    def _best(self, day: date) -> Decimal | None:
        spend = self.day(day)
        return spend.figure(spend.best_basis) if spend.best_basis else None

    def _monthly(self, now: datetime, budget: Decimal) -> list[Alert]:
        today = now.date()
        month = today.strftime("%Y-%m")
        spent, with_data = self.month_to_date(now)
        alerts = []
        crossed = [step for step in BUDGET_STEPS if spent >= budget * step / 100]
        if crossed:
            step = crossed[-1]
            alerts.append(self._budget_alert(f"monthly/{month}/actual-{step}", "actual", today, spent, budget, step, with_data))
        days_in_month = calendar.monthrange(today.year, today.month)[1]
        elapsed = Decimal(today.day - 1) + Decimal(max(now.hour * 60 + now.minute, 60)) / (24 * 60)
        if today.day - 1 >= FORECAST_AFTER_DAYS:
            forecast = spent / elapsed * days_in_month
            if forecast > budget:
                alerts.append(self._budget_alert(f"monthly/{month}/forecast-100", "forecast", today, forecast, budget, 100, with_data,
                                                 spent=spent))
        return alerts

    def _spike(self, now: datetime, ratio: Decimal) -> list[Alert]:
        today = now.date()
        estimate = self.day(today).estimated_usd
        average, days = self.trailing_average(today)
        if estimate is None or not average or estimate <= ratio * average:
            return []
        multiple = estimate / average
        spend = self.day(today)
        subject = f"Anthropic spend today ({usd(estimate)} so far) is {multiple:.1f}x your 7-day average of {usd(average)}"
        lines = [
            f"Anthropic API spend today, {today} (UTC), is {usd(estimate)} so far (estimated from usage x list prices, "
            f"through {format_timestamp(now)}), {multiple:.1f}x the trailing {days}-day average of {usd(average)}. "
            f"Your spike alert fires above {ratio}x.",
            "",
            *self._rankings(spend, ESTIMATED),
            "",
            LEFT_OUT,
            "",
            *self._query(today, ESTIMATED),
        ]
        document = {"kind": "spike", "basis": ESTIMATED, "day": today.isoformat(), "estimated_usd": str(estimate),
                    "trailing_average_usd": str(average), "trailing_days": days, "ratio": str(ratio),
                    "multiple": str(multiple.quantize(Decimal("0.01")))}
        return [self._alert(f"spike/{today}", "spike", ESTIMATED, today, "warning", subject, lines, document, spend)]

    # -- messages ---------------------------------------------------------------------------------

    def _daily(self, spend: DaySpend, basis: str, figure: Decimal, threshold: Decimal, today: date) -> Alert:
        day = spend.day
        confirms = self._sent_record(f"daily/{day}/{ESTIMATED}") if basis == BILLED else None
        label = " (estimated)" if basis == ESTIMATED else ""
        subject = f"Anthropic spend {usd(figure)}{label} on {day} passed your {_amount(threshold)} daily threshold"
        if confirms:
            subject = f"Confirmed: {subject}"
        average, average_days = self.trailing_average(day)
        so_far = " so far" if day >= today else ""
        lines = [f"Anthropic API spend on {day} (UTC) was {usd(figure)}{so_far}, above your daily threshold of {usd(threshold)}."]
        if confirms:
            lines.append(f"This confirms the estimated alert sent on {confirms['sent_at']}: estimated {usd(Decimal(confirms['figure_usd']))}, "
                         f"billed {usd(figure)}.")
        lines += ["", _basis_text(basis, spend, day >= today)]
        if spend.priority_estimated_usd and basis == BILLED:
            lines.append(f"Priority Tier usage is billed separately and is not in this figure: estimated at "
                         f"{usd(spend.priority_estimated_usd)} for the day from usage x list prices.")
        lines.append(LEFT_OUT)
        lines += ["", f"Trailing 7-day average: {usd(average)} ({average_days} day(s) with data)" if average is not None
                  else "Trailing 7-day average: no earlier days in the lake yet."]
        lines += ["", *self._rankings(spend, basis), "", *self._query(day, basis)]
        severity = "critical" if figure >= 2 * threshold else "warning"
        document = {"kind": "daily", "basis": basis, "day": day.isoformat(), "figure_usd": str(figure), "threshold_usd": str(threshold),
                    "priority_tier_estimated_usd": str(spend.priority_estimated_usd),
                    "trailing_average_usd": None if average is None else str(average), "confirms": confirms}
        return self._alert(f"daily/{day}/{basis}", "daily", basis, day, severity, subject, lines, document, spend)

    def _budget_alert(self, key: str, kind: str, today: date, figure: Decimal, budget: Decimal, step: int, with_data: int,
                      spent: Decimal | None = None) -> Alert:
        month = today.strftime("%B %Y")
        if kind == "forecast":
            subject = f"Anthropic spend forecast {usd(figure)} for {month} passes your {_amount(budget)} monthly budget"
            lines = [f"At the current pace, Anthropic API spend for {month} will reach about {usd(figure)}, above your monthly "
                     f"budget of {usd(budget)}. Month to date: {usd(spent)} ({with_data} day(s) with data; linear forecast)."]
            severity, basis = "warning", "forecast"
        else:
            subject = f"Anthropic spend {usd(figure)} this month reached {step}% of your {_amount(budget)} monthly budget"
            lines = [f"Anthropic API spend for {month} so far is {usd(figure)}: {step}% or more of your monthly budget of {usd(budget)}."
                     f" Complete days count at their billed cost (estimated until billed), today at its estimate; {with_data} day(s) with data.",
                     "Priority Tier usage is billed separately and is only in today's estimate, not in billed days."]
            severity = {50: "info", 80: "warning", 100: "critical"}[step]
            basis = "billed"
        lines += ["", LEFT_OUT, "", *self._query(today.replace(day=1), BILLED, month=True)]
        document = {"kind": "monthly", "basis": basis, "month": today.strftime("%Y-%m"), "figure_usd": str(figure),
                    "budget_usd": str(budget), "percent": step, "days_with_data": with_data}
        return self._alert(key, "monthly", basis, today, severity, subject, lines, document, None)

    def _alert(self, key: str, kind: str, basis: str, day: date, severity: str, subject: str, lines: list[str],
               document: dict[str, Any], spend: DaySpend | None) -> Alert:
        if spend is not None:
            document["top"] = {name: [[label, str(amount)] for label, amount in ranking]
                               for name, ranking in spend.top.get(basis if basis != "forecast" else BILLED, {}).items()}
        document |= {"key": key, "severity": severity, "run_id": self.run_id, "subject": subject}
        lines += ["", f"Sent once by anthropic-usage-lake (run {self.run_id}); alert key {key}."]
        text = "\n".join(lines)
        document["text"] = text  # machines get the words too (chat forwarding, ticket bodies)
        return Alert(key, kind, basis, day, severity, subject[:100], text, document)

    def _rankings(self, spend: DaySpend, basis: str) -> list[str]:
        lines = []
        top = spend.top.get(basis, {})
        for name, title in (("models", "Top models"), ("workspaces", "Top workspaces"), ("api_keys", "Top API keys")):
            ranking: Ranking = top.get(name) or (spend.top.get(ESTIMATED, {}).get(name, []) if name == "api_keys" else [])
            if not ranking:
                continue
            note = " (estimated from usage: the cost report has no per-key cost)" if name == "api_keys" and basis == BILLED else ""
            lines.append(f"{title}{note}:")
            lines += [f"  {label:<44} {usd(amount):>12}" for label, amount in ranking]
        if spend.unpriced_rows:
            lines.append(f"({spend.unpriced_rows} usage row(s) use models missing from the price table and are not in the estimate.)")
        return lines

    def _query(self, day: date, basis: str, *, month: bool = False) -> list[str]:
        db = self.settings.athena_database
        where = f"dt >= '{day}'" if month else f"dt = '{day}'"
        if basis == ESTIMATED:
            sql = (f"SELECT model, workspace_id, api_key_id, service_tier, sum(estimated_cost_usd) AS estimated_usd "
                   f"FROM \"{db}\".usage_messages WHERE {where} GROUP BY 1, 2, 3, 4 ORDER BY estimated_usd DESC LIMIT 50;")
        else:
            sql = (f"SELECT dt, model, workspace_id, cost_type, sum(amount_usd) AS usd "
                   f"FROM \"{db}\".cost_report WHERE {where} GROUP BY 1, 2, 3, 4 ORDER BY usd DESC LIMIT 50;")
        return [f"Look closer in Athena (workgroup {self.settings.athena_workgroup}):", f"  {sql}"]

    # -- what a person asks: where do we stand? -----------------------------------------------------

    def status(self, days: list[date], now: datetime) -> list[str]:
        """Each day's figures against the thresholds, and which alerts were sent or would fire now."""
        threshold = self.settings.daily_spend_threshold_usd
        firing = {alert.key: alert for alert in self.evaluate(days, now)}
        window_start = now.date() - timedelta(days=self.settings.usage_lookback_days)
        shown = usd(threshold) if threshold is not None else "off"
        header = f"{'day':<12}{'billed':>12}{'estimated':>12}{'priority est.':>15}  alerts (daily threshold {shown})"
        lines = [header, "-" * len(header)]
        for day in days:
            spend = self.day(day)
            notes = []
            for basis in (BILLED, ESTIMATED):
                key = f"daily/{day}/{basis}"
                sent = self._sent_record(key)
                if sent:
                    notes.append(f"{basis} sent {sent['sent_at']}")
                elif key in firing:
                    notes.append(f"{basis} WOULD FIRE on the next run" if day >= window_start
                                 else f"{basis} over the threshold (before the refresh window: not alerted)")
            lines.append(f"{day.isoformat():<12}{usd(spend.billed_usd):>12}{usd(spend.estimated_usd):>12}"
                         f"{usd(spend.priority_estimated_usd):>15}  {', '.join(notes) or '-'}")
        budget = self.settings.monthly_budget_usd
        spent, with_data = self.month_to_date(now)
        lines += ["", f"Month to date ({now:%B %Y}): {usd(spent)} over {with_data} day(s) with data; monthly budget "
                  f"{usd(budget) if budget is not None else 'off'}"]
        average, average_days = self.trailing_average(now.date())
        ratio = self.settings.spike_ratio
        lines.append(f"Today so far {usd(self.day(now.date()).estimated_usd)} (estimated); 7-day average {usd(average)} "
                     f"({average_days} day(s)); spike ratio {ratio if ratio is not None else 'off'}")
        others = [f"{key}: " + ("sent " + sent["sent_at"] if (sent := self._sent_record(key)) else "WOULD FIRE")
                  for key in firing if not key.startswith("daily/")]
        lines += [f"  {line}" for line in others]
        return lines

    # -- delivery, exactly once ---------------------------------------------------------------------

    def deliver(self, alerts: list[Alert]) -> Delivery:
        delivery = Delivery()
        for alert in alerts:
            outcome = self._deliver_one(alert)
            {SENT: delivery.sent, FAILED: delivery.failed}.get(outcome, delivery.skipped).append(alert.key)
        return delivery

    def _sent_record(self, key: str) -> dict[str, Any] | None:
        sent_key = alert_sent_key(key)
        return json.loads(self.lake.get(sent_key)) if self.lake.exists(sent_key) else None

    def _deliver_one(self, alert: Alert) -> str:
        if self._sent_record(alert.key) is not None:
            return IN_PROGRESS
        claims = sorted(k for k in self.lake.list(alert_claims_prefix(alert.key)) if not k.endswith(".failed.json"))
        now = self.clock()
        if claims and not self.lake.exists(alert_failed_key(claims[-1])):
            claimed_at = datetime.fromisoformat(json.loads(self.lake.get(claims[-1]))["claimed_at"])
            if now - claimed_at < STALE_CLAIM:
                return IN_PROGRESS  # another run is sending it right now
        claim = alert_claim_key(alert.key, len(claims) + 1)
        if not self.lake.put_if_absent(claim, json.dumps({"run_id": self.run_id, "claimed_at": now.isoformat()}).encode()):
            return IN_PROGRESS  # another run claimed the same attempt first
        try:
            message_id = self.publisher.publish(alert)
        except Exception as exc:  # noqa: BLE001 - any publish failure is retried by the next run
            logger.error("alert %s could not be sent (the next run retries it): %s", alert.key, exc)
            self.lake.put(alert_failed_key(claim), json.dumps({"run_id": self.run_id, "error": str(exc)}).encode())
            return FAILED
        figure = alert.document.get("figure_usd") or alert.document.get("estimated_usd")
        self.lake.put(alert_sent_key(alert.key), json.dumps({
            "key": alert.key, "message_id": message_id, "run_id": self.run_id, "sent_at": format_timestamp(self.clock()),
            "attempt": len(claims) + 1, "subject": alert.subject, "figure_usd": figure,
        }).encode())
        logger.info("alert %s sent: %s", alert.key, alert.subject)
        return SENT


def _amount(value: Decimal) -> str:
    """A threshold as people write it: $1,000 rather than $1,000.00."""
    return f"${value:,.0f}" if value == value.to_integral_value() else usd(value)


def _basis_text(basis: str, spend: DaySpend, today: bool) -> str:
    if basis == BILLED:
        return "Basis: billed - the Admin API cost report for the whole UTC day."
    if today:
        return ("Basis: estimated - today's usage so far x list prices (the cost report has no figure for a day until it has "
                "ended). Priority Tier usage is included in the estimate.")
    return ("Basis: estimated - usage x list prices; the cost report has no figure for this day yet. A follow-up comes "
            "if the billed figure confirms it.")
