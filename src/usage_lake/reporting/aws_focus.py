"""`usage-lake sql --aws-focus PATH`: a local copy of the AWS Data Exports FOCUS 1.2 export beside the lake.

The saved views `focus_all` (infra/queries/focus_all_view.sql) and `claude_spend_all`
(infra/queries/focus_claude_spend_all_view.sql) are created in DuckDB exactly as Athena runs them, over the
export's Parquet files (a folder, searched recursively, or one file) registered as `aws_focus_export`. A FOCUS
column the copy lacks reads as null; `billing_period` comes from the `billing_period=YYYY-MM` folders when the
copy has them, else from BillingPeriodStart. Timestamps are read as UTC wall clock, as everywhere in the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from usage_lake.errors import ConfigError

__all__ = ["AWS_FOCUS_COLUMNS", "QUERIES", "register_aws_focus"]

QUERIES = Path(__file__).resolve().parents[3] / "infra" / "queries"
_VIEWS = ("focus_all_view", "focus_claude_spend_all_view")
EXPORT_VIEW = "aws_focus_export"
_DOUBLE, _STAMP, _TEXT = "DOUBLE", "TIMESTAMP", "VARCHAR"
# FOCUS 1.2 with AWS columns (docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws-columns.html)
AWS_FOCUS_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("BilledCost", "CommitmentDiscountQuantity", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice",
                     "EffectiveCost", "ListCost", "ListUnitPrice", "PricingCurrencyContractedUnitPrice",
                     "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity"), _DOUBLE),
    **dict.fromkeys(("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"), _STAMP),
    **dict.fromkeys((
        "AvailabilityZone", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
        "CapacityReservationId", "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription",
        "ChargeFrequency", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
        "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedUnit", "InvoiceId",
        "InvoiceIssuerName", "PricingCategory", "PricingCurrency", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
        "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
        "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
        "x_Discounts", "x_Operation", "x_ServiceCode"), _TEXT),
    "Tags": "MAP(VARCHAR, VARCHAR)",
}


def _files(path: str) -> list[str]:
    root = Path(path).expanduser()
    if root.is_file():
        return [str(root)]
    if root.is_dir():
        found = sorted(str(p) for p in root.rglob("*.parquet"))
        if found:
            return found
        raise ConfigError(f"--aws-focus: no .parquet files under {root}")
    raise ConfigError(f"--aws-focus: {root} does not exist (give the folder of a local copy of the AWS FOCUS 1.2 export)")


def view_sql(name: str) -> str:
    """The saved query `infra/queries/<name>.sql`, without its comment lines."""
    path = QUERIES / f"{name}.sql"
    if not path.exists():
        raise ConfigError(f"--aws-focus needs the saved views of the repository (infra/queries/{name}.sql); run it from a checkout")
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))


def register_aws_focus(con: Any, path: str, params: Mapping[str, str], *, to_duckdb: Any, fill: Any) -> None:
    """Create `aws_focus_export` over the local export, then `focus_all` and `claude_spend_all` as Athena would."""
    files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in _files(path)) + "]"
    source = f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
    try:
        found = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    except Exception as exc:  # noqa: BLE001 - DuckDB names the file
        raise ConfigError(f"--aws-focus: cannot read the export: {str(exc).splitlines()[0]}") from None
    select = [f'CAST("{name}" AS {kind}) AS "{name}"' if name in found else f'CAST(NULL AS {kind}) AS "{name}"'
              for name, kind in AWS_FOCUS_COLUMNS.items()]
    period = "CAST(billing_period AS VARCHAR)" if "billing_period" in found else "strftime(CAST(BillingPeriodStart AS TIMESTAMP), '%Y-%m')"
    # the SQL's database qualifiers are dropped in DuckDB (one schema), so the export gets a name of its own
    con.execute(f"CREATE OR REPLACE VIEW {EXPORT_VIEW} AS SELECT {', '.join(select)}, {period} AS billing_period FROM {source}")
    values = {"CurFocusDatabase": "aws", "CurFocusTable": EXPORT_VIEW, "FocusTagKey": "team", **params}
    for name in _VIEWS:
        con.execute(to_duckdb(fill(view_sql(name), values)))
