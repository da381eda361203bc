"""`usage-lake summary` never hides a day (issue 8, item 17): every day of the range is listed, and a day without
data, a day not billed yet, and a day with usage but no cost are each marked, never shown as $0."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from support import NOW, TODAY, backfill, incremental, ingest, lake_usd
from usage_lake.app.cli import main
from usage_lake.config.settings import Settings
from usage_lake.money import usd
from usage_lake.reporting import DayData, day_data, spend_and_tokens

NOV = lambda d: date(2026, 11, d)  # noqa: E731


def fill(sim, lake) -> None:
    ingest(backfill(NOV(10), NOV(13)), sim=sim, lake=lake)  # 11-10..11-12: usage and cost
    ingest(backfill(NOV(8), NOV(9), reports=("usage",)), sim=sim, lake=lake)  # usage whose cost was never fetched
    ingest(backfill(NOV(14), NOV(15), reports=("cost",)), sim=sim, lake=lake)  # cost without usage
    ingest(incremental(NOW, reports=("usage",)), sim=sim, lake=lake, settings=Settings(base_url=sim.base_url, usage_lookback_days=1))


def test_item17_every_day_of_the_range_is_listed_and_marked(sim, local_lake):
    fill(sim, local_lake)
    days = [NOV(7) + timedelta(days=i) for i in range(17)]  # 11-07 .. 11-23 (today)
    text = spend_and_tokens(local_lake, days, today=TODAY)
    rows = {line[:10]: line for line in text.splitlines() if line[:4] == "2026" and line[4] == "-"}

    assert text.splitlines()[0] == "Usage and billed spend, 2026-11-07 .. 2026-11-23 (UTC days)"
    assert list(rows) == [d.isoformat() for d in days]  # every day, in order, none skipped
    assert rows["2026-11-07"].split()[1:] == ["-", "-", "-", "no", "data"]
    assert rows["2026-11-08"].endswith("no cost data") and rows["2026-11-08"].split()[1] != "-"
    assert rows["2026-11-14"].endswith("(no usage data)") and "$" in rows["2026-11-14"]
    for day in ("2026-11-22", "2026-11-23"):
        assert rows[day].endswith("not billed yet")
    for day in ("2026-11-10", "2026-11-11", "2026-11-12"):
        assert rows[day].split()[-1].startswith("$") and rows[day].split()[-1] != "$0.00"
    billed = lake_usd(local_lake, NOV(10), NOV(15))
    assert f"Billed cost (cost report, 4 of 17 days billed): {usd(billed)}" in text
    assert "Totals (6 of 17 days have usage):" in text
    assert ("Not in these totals: 2 day(s) not billed yet; 1 day(s) no cost data; 1 day(s) no usage data; 10 day(s) no data "
            "(to fill them: usage-lake run --start 2026-11-07 --end 2026-11-22)") in text
    assert "$0.00" not in text


def test_item17_yesterday_is_not_billed_yet_until_the_lake_has_its_cost_and_older_days_are_missing_cost():
    today = NOV(23)
    days = [NOV(20), NOV(21), NOV(22), NOV(23)]
    status = day_data(days, usage_days=set(days), cost_days={NOV(20)}, billed_through=NOV(20), today=today)
    assert status == {NOV(20): DayData.COMPLETE, NOV(21): DayData.NO_COST, NOV(22): DayData.NOT_BILLED, NOV(23): DayData.NOT_BILLED}
    status = day_data(days, usage_days=set(days), cost_days={NOV(20), NOV(22)}, billed_through=NOV(22), today=today)
    assert status[NOV(21)] == DayData.NO_COST and status[NOV(22)] == DayData.COMPLETE


def test_item17_the_summary_command_lists_each_day_it_is_headed_with(sim, local_lake, capsys):
    fill(sim, local_lake)
    assert main(["summary", "--lake", str(local_lake.root), "--days", "30"]) == 0
    out = capsys.readouterr().out
    today = datetime.now(UTC).date()
    expected = [today - timedelta(days=i) for i in range(29, -1, -1)]
    assert out.splitlines()[0] == f"Usage and billed spend, {expected[0]} .. {expected[-1]} (UTC days)"
    listed = [line[:10] for line in out.splitlines() if line[:2] == "20" and line[4:5] == "-" and line[7:8] == "-"]
    assert listed == [d.isoformat() for d in expected]
    assert "of 30 days billed" in out
