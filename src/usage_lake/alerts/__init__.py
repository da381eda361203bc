"""Spend alerts and budgets: the figures a rule reads, the rules, their messages, exactly-once delivery, and where they go.

    periods.py     a budget's periods (day, ISO week, month) and which are still open (3 days of grace after the end)
    scopes.py      a budget's scope resolved for a day (names and labels from the snapshots) into masks on the rows
    figures.py     a day's spend as the lake knows it (billed, estimated, Priority Tier, the `cost` measure, top
                   contributors, the day's rows aggregated by scope dimensions), and the figures built from days
                   (trailing and same-hours averages, a budget's figure over a period, its forecast)
    rules.py       which alerts fire, from the figures alone: one finding per alert, with its key, family and level
    messages.py    what an alert says: subject, e-mail text, machine document, the Athena query
    digest.py      the weekly digest (Mondays): last week against the week before, budgets, movers, gaps
    delivery.py    exactly once: claims, `.failed` retries, sent records in the lake; a family only rises
    prices.py      price notices (issue 19): a model with no price, a bill off the list price; each sent once
    status.py      where we stand: what `usage-lake alerts` prints (and its JSON rows)
    run.py         the budgets file read (`load_budgets`), one run's alerting wired once (`Alerting`), and the notices
                   of what cannot be evaluated (`notice`)
    publishers.py  SNS (deployed) and the lake's outbox (local); the only boto3 user here
"""

from usage_lake.alerts.delivery import Delivery, Publisher, Sender
from usage_lake.alerts.figures import BILLED, ESTIMATED, BudgetFigure, DaySpend, Figures, read_day
from usage_lake.alerts.messages import Alert, Messages
from usage_lake.alerts.run import Alerting, load_budgets
from usage_lake.alerts.status import budget_rows, render_budgets, sent_since

__all__ = ["BILLED", "ESTIMATED", "Alert", "Alerting", "BudgetFigure", "DaySpend", "Delivery", "Figures", "Messages", "Publisher",
           "Sender", "budget_rows", "load_budgets", "read_day", "render_budgets", "sent_since"]
