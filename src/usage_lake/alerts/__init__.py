"""Spend alerts: the figures a rule reads, the rules, their messages, exactly-once delivery, and where they go.

    figures.py     a day's spend as the lake knows it (billed, estimated, Priority Tier, the `cost` measure, top
                   contributors), and the figures built from days (trailing and same-hours averages, a month's cost)
    rules.py       which alerts fire, from the figures alone: one finding per alert, with its key, family and level
    messages.py    what an alert says: subject, e-mail text, machine document, the Athena query
    delivery.py    exactly once: claims, `.failed` retries, sent records in the lake; a family only rises
    status.py      where we stand: what `usage-lake alerts` prints
    run.py         one run's alerting wired once (`Alerting`): figures -> rules -> messages -> delivery
    publishers.py  SNS (deployed) and the lake's outbox (local); the only boto3 user here
"""

from usage_lake.alerts.delivery import Delivery, Publisher, Sender
from usage_lake.alerts.figures import BILLED, ESTIMATED, DaySpend, Figures, MonthSpend, read_day
from usage_lake.alerts.messages import Alert, Messages
from usage_lake.alerts.run import Alerting

__all__ = ["BILLED", "ESTIMATED", "Alert", "Alerting", "DaySpend", "Delivery", "Figures", "Messages", "MonthSpend", "Publisher",
           "Sender", "read_day"]
