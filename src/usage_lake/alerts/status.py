"""Where do we stand? What `usage-lake alerts` prints: each day against the thresholds, sent or would fire."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from usage_lake.alerts.delivery import sent_record
from usage_lake.alerts.figures import BILLED, ESTIMATED, Figures
from usage_lake.alerts.rules import evaluate
from usage_lake.config.settings import Settings
from usage_lake.lake.store import Lake
from usage_lake.money import usd

__all__ = ["status"]


def status(lake: Lake, figures: Figures, settings: Settings, days: list[date], now: datetime) -> list[str]:
    """Each day's figures against the thresholds, and which alerts were sent or would fire now."""
    threshold = settings.daily_spend_threshold_usd
    firing = dict.fromkeys(finding.key for finding in evaluate(figures, settings, days, now))
    window_start = now.date() - timedelta(days=settings.usage_lookback_days)
    shown = usd(threshold) if threshold is not None else "off"
    header = f"{'day':<12}{'billed':>12}{'estimated':>12}{'priority est.':>15}  alerts (daily threshold {shown})"
    lines = [header, "-" * len(header)]
    for day in days:
        spend = figures.day(day)
        notes = []
        for basis in (BILLED, ESTIMATED):
            key = f"daily/{day}/{basis}"
            sent = sent_record(lake, key)
            if sent:
                notes.append(f"{basis} sent {sent['sent_at']}")
            elif key in firing:
                notes.append(f"{basis} WOULD FIRE on the next run" if day >= window_start
                             else f"{basis} over the threshold (before the refresh window: not alerted)")
        lines.append(f"{day.isoformat():<12}{usd(spend.billed_usd):>12}{usd(spend.estimated_usd):>12}"
                     f"{usd(spend.priority_estimated_usd):>15}  {', '.join(notes) or '-'}")
    budget = settings.monthly_budget_usd
    spent, with_data = figures.month_to_date(now)
    lines += ["", f"Month to date ({now:%B %Y}): {usd(spent)} over {with_data} day(s) with data; monthly budget "
              f"{usd(budget) if budget is not None else 'off'}"]
    average, average_days = figures.trailing_average(now.date())
    ratio = settings.spike_ratio
    lines.append(f"Today so far {usd(figures.day(now.date()).estimated_usd)} (estimated); 7-day average {usd(average)} "
                 f"({average_days} day(s)); spike ratio {ratio if ratio is not None else 'off'}")
    others = [f"{key}: " + ("sent " + sent["sent_at"] if (sent := sent_record(lake, key)) else "WOULD FIRE")
              for key in firing if not key.startswith("daily/")]
    lines += [f"  {line}" for line in others]
    return lines
