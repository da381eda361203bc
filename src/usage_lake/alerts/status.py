"""Where do we stand? What `usage-lake alerts` prints: each day against the thresholds, the months against the
budget, today against the spike ratio, and for each alert whether it was sent or would fire on the next run."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from usage_lake.alerts.delivery import covering, family_records
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.messages import plain_usd
from usage_lake.alerts.rules import SPIKE_MIN_DAYS, DailyOver, evaluate, months_open
from usage_lake.config.settings import Settings
from usage_lake.lake.store import Lake
from usage_lake.money import usd

__all__ = ["status"]


def status(lake: Lake, figures: Figures, settings: Settings, days: list[date], now: datetime) -> list[str]:
    """Each day's figures against the thresholds, and which alerts were sent or would fire now."""
    threshold = settings.daily_spend_threshold_usd
    findings = evaluate(figures, settings, days, now)
    daily = {(f.spend.day, f.basis): f for f in findings if isinstance(f, DailyOver)}
    window_start = now.date() - timedelta(days=settings.usage_lookback_days)
    shown = usd(threshold) if threshold is not None else "off"
    header = f"{'day':<12}{'billed':>12}{'estimated':>12}{'priority est.':>15}  alerts (daily threshold {shown})"
    lines = [header, "-" * len(header)]
    for day in days:
        spend = figures.day(day)
        notes = []
        for basis in (BILLED, ESTIMATED):
            if sent := family_records(lake, f"daily/{day}/{basis}"):
                level = sent[-1].get("level")
                notes.append(f"{basis} sent {sent[-1]['sent_at']}" + (f" (at {plain_usd(Decimal(level))})" if level else ""))
            over = daily.get((day, basis))
            if over is not None and covering(lake, over.family, over.level) is None:
                notes.append(f"{basis} WOULD FIRE on the next run" if day >= window_start
                             else f"{basis} over the threshold (before the refresh window: not alerted)")
        lines.append(f"{day.isoformat():<12}{usd(spend.billed_usd):>12}{usd(spend.estimated_usd):>12}"
                     f"{usd(spend.priority_estimated_usd):>15}  {', '.join(notes) or '-'}")
    budget = settings.monthly_budget_usd
    lines.append("")
    for month in months_open(now):
        spent = figures.month(month, now)
        lines.append(f"{'Month' if spent.ended else 'Month to date'} ({month:%B %Y}{', ended' if spent.ended else ''}): "
                     f"{usd(spent.cost_usd)} on the cost basis ({spent.billed_days} day(s) billed, {spent.estimated_days} "
                     f"estimated without Priority Tier); Priority Tier estimated {usd(spent.priority_estimated_usd)} beside it; "
                     f"monthly budget {usd(budget) if budget is not None else 'off'}")
    average, average_days = figures.same_hours_average(now)
    ratio = settings.spike_ratio
    lines.append(f"Today by {now:%H:%M} UTC {usd(figures.day(now.date()).estimated_through(now))} (estimated); the same hours "
                 f"averaged {usd(average)} over {average_days} earlier day(s) (a spike needs {SPIKE_MIN_DAYS}); spike ratio "
                 f"{ratio if ratio is not None else 'off'}")
    for finding in findings:
        if isinstance(finding, DailyOver):
            continue
        record = covering(lake, finding.family, finding.level)
        state = "WOULD FIRE" if record is None else "sent " + record["sent_at"] + (
            f" (as {record['key']})" if record.get("key") != finding.key else "")
        lines.append(f"  {finding.key}: {state}")
    return lines

