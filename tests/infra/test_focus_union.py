"""The saved FOCUS queries (infra/queries/focus_*.sql): the focus_all view UNIONs the AWS Data Exports FOCUS 1.2 table
with our `focus` table, and the spend queries read it. Checked as Trino SQL, then run in DuckDB (transpiled) against a
lake the simulator filled and a small CUR-FOCUS-shaped Parquet sample built from the AWS column dictionary's types.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot.optimizer.qualify import qualify
from support import NOW, TODAY, backfill, ingest

from usage_lake.config.settings import Settings
from usage_lake.lake import LocalLake, parquet_bytes, read_table
from usage_lake.lake.layout import partition_key
from usage_lake.lake.schema import athena_columns
from usage_lake.simulator import SimulatedOrg, Simulator

QUERIES = Path(__file__).resolve().parents[2] / "infra" / "queries"
PARAMETERS = {"CurFocusDatabase": "cid_data_export", "CurFocusTable": "focus", "FocusTagKey": "team"}  # the template's defaults
FIRST, END = date(2026, 10, 30), date(2026, 11, 3)  # two billing periods

# "FOCUS 1.2 with AWS columns" (docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws-columns): costs,
# prices and quantities are double, the four period columns timestamp_milliseconds, Tags a map (as Glue declares it in
# the CID deployment), everything else string; plus the three AWS columns and the CID table's partition column.
DOUBLE, STAMP, STRING, TAGS = pa.float64(), pa.timestamp("ms"), pa.string(), pa.map_(pa.string(), pa.string())
AWS_FOCUS_1_2 = {
    "AvailabilityZone": STRING, "BilledCost": DOUBLE, "BillingAccountId": STRING, "BillingAccountName": STRING,
    "BillingAccountType": STRING, "BillingCurrency": STRING, "BillingPeriodEnd": STAMP, "BillingPeriodStart": STAMP,
    "CapacityReservationId": STRING, "CapacityReservationStatus": STRING, "ChargeCategory": STRING, "ChargeClass": STRING,
    "ChargeDescription": STRING, "ChargeFrequency": STRING, "ChargePeriodEnd": STAMP, "ChargePeriodStart": STAMP,
    "CommitmentDiscountCategory": STRING, "CommitmentDiscountId": STRING, "CommitmentDiscountName": STRING,
    "CommitmentDiscountQuantity": DOUBLE, "CommitmentDiscountStatus": STRING, "CommitmentDiscountType": STRING,
    "CommitmentDiscountUnit": STRING, "ConsumedQuantity": DOUBLE, "ConsumedUnit": STRING, "ContractedCost": DOUBLE,
    "ContractedUnitPrice": DOUBLE, "EffectiveCost": DOUBLE, "InvoiceId": STRING, "InvoiceIssuerName": STRING,
    "ListCost": DOUBLE, "ListUnitPrice": DOUBLE, "PricingCategory": STRING, "PricingCurrency": STRING,
    "PricingCurrencyContractedUnitPrice": DOUBLE, "PricingCurrencyEffectiveCost": DOUBLE,
    "PricingCurrencyListUnitPrice": DOUBLE, "PricingQuantity": DOUBLE, "PricingUnit": STRING, "ProviderName": STRING,
    "PublisherName": STRING, "RegionId": STRING, "RegionName": STRING, "ResourceId": STRING, "ResourceName": STRING,
    "ResourceType": STRING, "ServiceCategory": STRING, "ServiceName": STRING, "ServiceSubcategory": STRING,
    "SkuId": STRING, "SkuMeter": STRING, "SkuPriceDetails": STRING, "SkuPriceId": STRING, "SubAccountId": STRING,
    "SubAccountName": STRING, "SubAccountType": STRING, "Tags": TAGS,
    "x_Discounts": STRING, "x_Operation": STRING, "x_ServiceCode": STRING,
}
# (billing period, service, code, tags, billed, effective)
AWS_ROWS = [
    ("2026-10", "Amazon Elastic Compute Cloud", "AmazonEC2", {"user:team": "search"}, 120.25, 100.5),
    ("2026-10", "Amazon Simple Storage Service", "AmazonS3", {}, 10.0, 10.0),
    ("2026-11", "Amazon Elastic Compute Cloud", "AmazonEC2", {"team": "platform"}, 80.5, 70.25),
    ("2026-11", "Amazon Bedrock", "AmazonBedrock", {"user:team": "search", "env": "prod"}, 33.125, 33.125),
    ("2026-09", "Amazon Simple Storage Service", "AmazonS3", {"team": "platform"}, 5.5, 5.5),
    ("2026-08", "Amazon Elastic Compute Cloud", "AmazonEC2", {"team": "search"}, 999.0, 999.0),  # before the last 3 periods
]


def aws_sample(root: Path) -> Path:
    """The AWS export as CID lays it out: Parquet under billing_period=YYYY-MM/, columns typed by the dictionary."""
    by_period = defaultdict(list)
    for row in AWS_ROWS:
        by_period[row[0]].append(row)
    for period, rows in by_period.items():
        start = datetime.strptime(period, "%Y-%m")
        end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        values: dict[str, list] = {name: [None] * len(rows) for name in AWS_FOCUS_1_2}
        for i, (_, service, code, tags, billed, effective) in enumerate(rows):
            values["BilledCost"][i], values["EffectiveCost"][i] = billed, effective
            values["ListCost"][i] = values["ContractedCost"][i] = billed
            values["ServiceName"][i], values["x_ServiceCode"][i], values["Tags"][i] = service, code, list(tags.items())
            values["ProviderName"][i] = values["PublisherName"][i] = values["InvoiceIssuerName"][i] = "AWS"
            values["ServiceCategory"][i] = "AI and Machine Learning" if code == "AmazonBedrock" else "Compute"
            values["BillingPeriodStart"][i], values["BillingPeriodEnd"][i] = start, end
            values["ChargePeriodStart"][i], values["ChargePeriodEnd"][i] = start, start.replace(day=2)
            values["BillingAccountId"][i], values["BillingCurrency"][i], values["ChargeCategory"][i] = "111111111111", "USD", "Usage"
        folder = root / f"billing_period={period}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({n: pa.array(v, t) for (n, t), v in zip(AWS_FOCUS_1_2.items(), values.values(), strict=True)}),
                       folder / "part-0.parquet")
    return root


def sql_text(name: str) -> str:
    """A query as the template's !Sub fills it at deploy time."""
    text = (QUERIES / f"{name}.sql").read_text()
    for parameter, value in PARAMETERS.items():
        text = text.replace("${%s}" % parameter, value)
    assert "${" not in text
    return text


def to_duckdb(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    pinned = tree.transform(lambda node: exp_date(TODAY) if isinstance(node, sqlglot.exp.CurrentDate) else node)
    return pinned.sql(dialect="duckdb")


def exp_date(day: date) -> sqlglot.exp.Expression:
    return sqlglot.exp.cast(sqlglot.exp.Literal.string(day.isoformat()), sqlglot.exp.DataType.build("date"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """The simulator's org back-filled across a month boundary, with its workspaces' tags, and the Priority Tier estimate."""
    org = SimulatedOrg.small()
    lake = LocalLake(tmp_path_factory.mktemp("focus-union") / "lake")
    workspaces = [w for w in org.workspace_ids if w]
    teams = {w: ("search" if i % 2 else "platform") for i, w in enumerate(workspaces)}
    lake.put(partition_key("workspaces", FIRST), parquet_bytes(pa.table({
        "id": workspaces, "name": [f"Workspace {i}" for i in range(len(workspaces))],
        "tags": pa.array([[("team", teams[w])] for w in workspaces], TAGS)})))
    with Simulator(org, now=NOW) as sim:
        ingest(backfill(FIRST, END), sim=sim, lake=lake, settings=Settings(base_url=sim.base_url, focus_include_estimated_priority=True))
    return lake, teams


@pytest.fixture(scope="module")
def athena(filled, tmp_path_factory):
    lake, _ = filled
    aws = aws_sample(tmp_path_factory.mktemp("cid") / "focus")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("ATTACH ':memory:' AS cid_data_export")
    con.execute(f"""CREATE VIEW cid_data_export.focus AS SELECT * FROM read_parquet('{aws}/*/*.parquet',
                    hive_partitioning = true, hive_types = {{'billing_period': VARCHAR}})""")
    stamps = ", ".join(f"CAST({c} AS TIMESTAMP) AS {c}" for c, kind in athena_columns("focus") if kind == "timestamp")
    con.execute(f"""CREATE VIEW focus AS SELECT * REPLACE ({stamps}) FROM read_parquet('{lake.root}/focus/*/*.parquet',
                    hive_partitioning = true, hive_types = {{'dt': VARCHAR}})""")
    con.execute(to_duckdb(sql_text("focus_all_view")))

    def run(sql: str) -> list[dict]:
        cursor = con.execute(sql)
        return [dict(zip([d[0] for d in cursor.description], row, strict=True)) for row in cursor.fetchall()]

    yield run
    con.close()


def anthropic_by_period(lake: LocalLake, basis: str) -> dict[str, Decimal]:
    table = read_table(lake, "focus").to_pylist()
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in table:
        if r["x_CostBasis"] == basis:
            out[r["dt"][:7]] += r["BilledCost"]
    return dict(out)


def test_the_view_is_trino_sql_over_both_tables_columns():
    sql = sql_text("focus_all_view")
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(tree, sqlglot.exp.Create) and tree.args["replace"]
    ours = {name: "varchar" for name, _ in athena_columns("focus")} | {"dt": "varchar"}
    aws = {name: "varchar" for name in AWS_FOCUS_1_2} | {"billing_period": "varchar"}
    # every column either side reads resolves against its table (Trino's name resolution), on both branches of the UNION;
    # our table is unqualified: the named query runs in the stack's Glue database
    qualify(tree.expression, schema={"cid_data_export": {"focus": aws}, "anthropic_usage": {"focus": ours}}, db="anthropic_usage",
            dialect="trino", validate_qualify_columns=True)
    left, right = tree.expression.left, tree.expression.right
    assert left.named_selects == right.named_selects  # a UNION ALL matches columns by position: same names, same order
    # our decimals are cast to double there and only there; the AWS side is read as it is
    casts = set(re.findall(r"CAST\((\w+) AS double\) AS (\w+)", sql))
    decimals = {name for name, kind in athena_columns("focus") if kind.startswith("decimal")}
    assert {a for a, b in casts if a == b} == decimals
    for name in ("ServiceProviderName", "HostProviderName", "x_Source", "x_CostBasis", "billing_period", "Tags"):
        assert name.lower() in left.named_selects  # qualify() normalises identifiers, as Trino does


@pytest.mark.parametrize("name", ["focus_spend_by_provider", "focus_spend_by_tag"])
def test_spend_queries_are_trino_sql_reading_the_view(name):
    tree = sqlglot.parse_one(sql_text(name), read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert [t.name for t in tree.find_all(sqlglot.exp.Table)] == ["focus_all"]
    assert "billing_period >=" in sql_text(name)  # prunes the AWS table's partitions


def test_the_view_unions_aws_and_anthropic_with_doubles_only_there(athena, filled):
    lake, _ = filled
    described = {row["column_name"]: row["column_type"] for row in athena("DESCRIBE focus_all")}
    assert described["BilledCost"] == described["ListUnitPrice"] == described["PricingQuantity"] == "DOUBLE"
    assert described["Tags"] == "MAP(VARCHAR, VARCHAR)" and described["ChargePeriodStart"] == "TIMESTAMP"
    assert {row["column_name"]: row["column_type"] for row in athena("DESCRIBE focus")}["BilledCost"] == "DECIMAL(38,14)"
    (counts,) = athena("SELECT count(*) FILTER (WHERE ServiceProviderName = 'AWS') AS aws, "
                       "count(*) FILTER (WHERE ServiceProviderName = 'Anthropic') AS anthropic FROM focus_all")
    assert counts == {"aws": len(AWS_ROWS), "anthropic": read_table(lake, "focus").num_rows}
    (row,) = athena("SELECT * FROM focus_all WHERE x_ServiceCode = 'AmazonBedrock'")
    assert (row["ProviderName"], row["HostProviderName"], row["x_Source"], row["billing_period"]) == ("AWS", "AWS", "aws-data-exports-focus-1.2", "2026-11")
    assert row["x_Model"] is None and row["SkuPriceId"] is None  # a column the AWS side lacks in this sample reads as null


def test_spend_by_provider_across_both(athena, filled):
    lake, _ = filled
    rows = {(r["billing_period"], r["ServiceProviderName"], r["cost_basis"]): r for r in athena(to_duckdb(sql_text("focus_spend_by_provider")))}
    aws = defaultdict(float)
    for period, *_, billed, _ in AWS_ROWS:
        aws[period] += billed
    billed, estimated = anthropic_by_period(lake, "billed"), anthropic_by_period(lake, "estimated")
    assert set(rows) == {("2026-09", "AWS", "billed"), ("2026-10", "AWS", "billed"), ("2026-11", "AWS", "billed"),
                         *((p, "Anthropic", "billed") for p in billed), *((p, "Anthropic", "estimated") for p in estimated)}
    assert set(billed) == {"2026-10", "2026-11"}  # August's AWS row is before the last three billing periods
    for (period, provider, basis), row in rows.items():
        expected = aws[period] if provider == "AWS" else float((billed if basis == "billed" else estimated)[period])
        assert row["billed_cost"] == pytest.approx(expected, rel=1e-12)  # doubles, as the AWS side is
    assert [r["billing_period"] for r in athena(to_duckdb(sql_text("focus_spend_by_provider")))][0] == "2026-11"


def test_spend_by_tag_across_both(athena, filled):
    lake, teams = filled
    rows = {(r["billing_period"], r["tag_value"], r["ServiceProviderName"]): r["effective_cost"]
            for r in athena(to_duckdb(sql_text("focus_spend_by_tag")))}
    expected: dict[tuple, float] = defaultdict(float)
    for period, _, _, tags, _, effective in AWS_ROWS:
        if period >= "2026-09":
            expected[(period, tags.get("team") or tags.get("user:team") or "(untagged)", "AWS")] += effective
    for r in read_table(lake, "focus").to_pylist():
        team = dict(r["Tags"]).get("team", "(untagged)")
        expected[(r["dt"][:7], team, "Anthropic")] += float(r["EffectiveCost"])
    assert rows.keys() == expected.keys()
    assert {k: pytest.approx(v, rel=1e-12) for k, v in expected.items()} == rows
    assert ("2026-11", "search", "AWS") in rows and ("2026-10", "search", "AWS") in rows  # "user:team" and "team" both read
    assert {team for _, team, provider in rows if provider == "Anthropic"} == {"search", "platform", "(untagged)"}
    assert set(teams.values()) == {"search", "platform"}


def test_the_docs_document_every_focus_validator_exception():
    """`make focus-check` (infra/focus_check.py) accepts exactly EXCEPTIONS; docs/focus.md explains each of them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("focus_check", QUERIES.parent / "focus_check.py")
    assert spec and spec.loader
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    page = (QUERIES.parents[1] / "docs" / "focus.md").read_text()
    section = page[page.index("## What the validator says"):]
    csv_rules, parquet_rules = check.expected("csv"), check.expected("parquet")
    assert f"{len(csv_rules)} fail on the CSV and {len(parquet_rules)} on Parquet" in section
    for rule in parquet_rules:
        family = rule.rsplit("-", 2)[0]  # e.g. PricingCurrencyListUnitPrice-C, CostAndUsage-D
        assert family.split("-")[0] in section, rule
    for rule in ("ConsumedQuantity-C-000-C", "InvoiceId-C-005-C", "CostAndUsage-D-046-C", "Tags-C-001-M", "SkuPriceDetails-C-001-M"):
        assert rule in section
    assert set(check.CRITERIA) >= {"USAGE_MEASUREMENT_SUPPORTED", "UNIT_PRICING_SUPPORTED", "TAGGING_SUPPORTED"}
