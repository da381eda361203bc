"""Issue 18: Claude on the API and on Bedrock in one view (`claude_spend_all` over `focus_all`), in DuckDB over a
back-filled lake and an AWS-shaped FOCUS 1.2 sample, through `usage-lake sql --aws-focus PATH`.

The sample follows the AWS documentation: Anthropic models on Bedrock are Marketplace products named
'Claude Sonnet 4.5 (Amazon Bedrock Edition)'; their usage types (FOCUS SkuMeter) read like
'USE1-MP:USE1_InputTokenCount-Units', '..._CacheReadInputTokenCount-Units', '..._OutputTokenCount-Units', and for
newer models 'USE1-MP:USE1_input_tokens_standard-Units'; one line per token type.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from support import NOW, backfill, ingest

from usage_lake.app.cli import main
from usage_lake.lake import LocalLake, read_table
from usage_lake.reporting.aws_focus import AWS_FOCUS_COLUMNS, QUERIES
from usage_lake.reporting.query import run_sql
from usage_lake.simulator import SimulatedOrg, Simulator

FIRST, END = date(2026, 11, 2), date(2026, 11, 5)
_TYPES = {"DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("ms"), "VARCHAR": pa.string(), "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string())}
# (service name, usage type, tags, account, billed USD, usage amount)
BEDROCK = [
    ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", "USE1-MP:USE1_InputTokenCount-Units", {"user:team": "search"}, "search-prod", 12.5, 4.1),
    ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", "USE1-MP:USE1_OutputTokenCount-Units", {"user:team": "search"}, "search-prod", 30.0, 2.0),
    ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", "USE1-MP:USE1_CacheReadInputTokenCount-Units", {"user:team": "search"}, "search-prod", 0.75, 2.5),
    ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", "USE1-MP:USE1_CacheWriteInputTokenCount-Units", {}, "platform-dev", 1.25, 0.3),
    ("Claude Opus 4.6 (Amazon Bedrock Edition)", "USW2-MP:USW2_input_tokens_global_standard-Units", {"team": "research"}, "research", 8.0, 1.6),
    ("Claude Opus 4.6 (Amazon Bedrock Edition)", "USW2-MP:USW2_output_tokens_global_standard-Units", {"team": "research"}, "research", 20.0, 0.8),
    ("Claude 3 Haiku (Amazon Bedrock Edition)", "USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units", {}, "platform-dev", 3.0, 1.0),
]
OTHER = [  # not Claude: never in the view
    ("Amazon Bedrock", "USE1-ModelUnits", {"user:team": "search"}, "search-prod", 4.0, 1.0),
    ("Llama 3 70B Instruct (Amazon Bedrock Edition)", "USE1-MP:USE1_InputTokenCount-Units", {}, "platform-dev", 2.0, 1.0),
    ("Amazon Elastic Compute Cloud", "USE1-BoxUsage:m7g.large", {"user:team": "search"}, "search-prod", 50.0, 24.0),
]
EXPECTED_CLASS = {"CacheReadInputTokenCount": "cache_read", "CacheWriteInputTokenCount": "cache_write", "InputTokenCount": "input",
                  "OutputTokenCount": "output", "input_tokens_global": "input", "output_tokens_global": "output",
                  "Reserved_1Month": "other"}  # the first part found in the usage type decides


def aws_export(root: Path) -> Path:
    """The AWS FOCUS 1.2 export laid out as Data Exports writes it (billing_period=YYYY-MM/ Parquet)."""
    rows = BEDROCK + OTHER
    values: dict[str, list] = {name: [None] * len(rows) for name in AWS_FOCUS_COLUMNS}
    start = datetime(2026, 11, 1)
    for i, (service, usage_type, tags, account, billed, amount) in enumerate(rows):
        values["ServiceName"][i], values["SkuMeter"][i], values["Tags"][i] = service, usage_type, list(tags.items())
        values["SubAccountId"][i], values["SubAccountName"][i] = f"{i:012d}", account
        values["BilledCost"][i] = values["EffectiveCost"][i] = values["ListCost"][i] = billed
        values["ConsumedQuantity"][i], values["ConsumedUnit"][i] = amount, "Units"
        values["ProviderName"][i], values["InvoiceIssuerName"][i] = "AWS", "AWS"
        values["PublisherName"][i] = "Anthropic" if "Claude" in service else "AWS"
        values["BillingPeriodStart"][i], values["BillingPeriodEnd"][i] = start, datetime(2026, 12, 1)
        values["ChargePeriodStart"][i], values["ChargePeriodEnd"][i] = datetime(2026, 11, 3), datetime(2026, 11, 4)
        values["BillingCurrency"][i], values["ChargeCategory"][i] = "USD", "Usage"
    folder = root / "billing_period=2026-11"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({n: pa.array(values[n], _TYPES[t]) for n, t in AWS_FOCUS_COLUMNS.items()}), folder / "part-0.parquet")
    return root


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    org = SimulatedOrg.small()
    root = tmp_path_factory.mktemp("claude-all")
    lake = LocalLake(root / "lake")
    with Simulator(org, now=NOW) as sim:
        assert ingest(backfill(FIRST, END), sim=sim, lake=lake).outcome == "succeeded"
    return lake, aws_export(root / "aws")


def test_the_view_and_query_are_trino_sql():
    for name in ("focus_claude_spend_all_view", "focus_claude_spend_by_source"):
        text = (QUERIES / f"{name}.sql").read_text().replace("${FocusTagKey}", "team")
        sqlglot.parse_one(text, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    body = [line for line in (QUERIES / "focus_claude_spend_all_view.sql").read_text().lower().splitlines() if not line.startswith("--")]
    assert not [line for line in body if "sonnet" in line or "opus" in line or "haiku" in line]  # matched by name, no model list


def test_both_sources_with_the_right_token_classes_and_teams(filled):
    lake, aws = filled
    rows = run_sql(lake, "SELECT * FROM claude_spend_all", aws_focus=str(aws), now=NOW).table.to_pylist()
    bedrock = [r for r in rows if r["x_Source"] == "aws_bedrock"]
    api = [r for r in rows if r["x_Source"] == "anthropic_api"]
    assert len(bedrock) == len(BEDROCK)  # every Claude line, and nothing else of the AWS bill
    for r in bedrock:
        expected = next(v for k, v in EXPECTED_CLASS.items() if k in r["usage_type"])
        assert r["token_class"] == expected, r["usage_type"]
    assert {r["model"] for r in bedrock} == {"Claude Sonnet 4.5", "Claude Opus 4.6", "Claude 3 Haiku"}
    assert {r["model_family"] for r in bedrock} == {"sonnet", "opus", "haiku"}
    teams = defaultdict(float)
    for r in bedrock:
        teams[r["team"]] += r["BilledCost"]
    assert dict(teams) == {"search": 43.25, "platform-dev": 4.25, "research": 28.0}  # tag, else the account
    # the API side: every focus row, its cost to the cent, token classes from x_TokenType
    focus = read_table(lake, "focus")
    assert len(api) == focus.num_rows
    assert round(sum(Decimal(str(r["BilledCost"])) for r in api), 2) == round(sum(focus.column("BilledCost").to_pylist()), 2)
    assert {r["token_class"] for r in api} == {"input", "output", "cache_read", "cache_write", "other"}
    assert {r["model_family"] for r in api if r["model"]} >= {"sonnet", "opus", "haiku"}


def test_the_saved_query_runs_through_usage_lake_sql(filled, capsys):
    lake, aws = filled
    code = main(["sql", "--lake", str(lake.root), "--aws-focus", str(aws), "--file", str(QUERIES / "focus_claude_spend_by_source.sql"),
                 "--param", "FocusTagKey=team", "--now", "2026-11-23T14:30:00Z", "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    assert "aws_bedrock,sonnet,search," in out and "anthropic_api,sonnet," in out


def test_a_missing_export_is_one_clear_line(filled, capsys):
    lake, _ = filled
    assert main(["sql", "--lake", str(lake.root), "--aws-focus", "/nonexistent/export", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert "--aws-focus: /nonexistent/export does not exist" in err and "Traceback" not in err
