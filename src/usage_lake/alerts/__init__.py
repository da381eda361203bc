"""Spend alerts: the figures a rule reads, the rules, their messages, exactly-once delivery, and where they go.

    figures.py     a day's spend as the lake knows it (billed, estimated, Priority Tier, top contributors)
    rules.py       the rules, their messages, status, and exactly-once delivery (`Alerting`)
    publishers.py  SNS (deployed) and the lake's outbox (local); the only boto3 user here
"""

from usage_lake.alerts.figures import BILLED, ESTIMATED, DaySpend, read_day
from usage_lake.alerts.rules import Alert, Alerting, Delivery, Publisher

__all__ = ["BILLED", "ESTIMATED", "Alert", "Alerting", "DaySpend", "Delivery", "Publisher", "read_day"]
