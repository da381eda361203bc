"""Validate the `focus` table with the FinOps Foundation's focus-validator (`make focus-check`; CI runs it).

    python infra/focus_check.py --validator build/focus-venv/bin/focus-validator [--work build/focus-check]

1. Fills a local lake from the simulator through the real pipeline (a week, Priority Tier estimates on), with the
   organization and workspace snapshots the lake's `organization`/`workspaces` tables hold (names and tags); and a
   second one from the simulator serving a 2025-shaped cost report (`cost_inference_geo = False`: token rows with a
   null `inference_geo`, joined with usage summed over geo).
2. Writes each week's `focus` rows as Parquet (the table itself) and as the FOCUS CSV export.
3. Runs focus-validator (FOCUS 1.2, offline) on both with the applicability criteria that hold for Anthropic, and
   compares the failed rules with EXCEPTIONS: each one is explained in docs/focus.md ("What the validator says").
   An unexpected failure fails the check, and so does a listed exception that no longer happens (the list stays true).

focus-validator runs in its own virtualenv (Python >= 3.12, numpy < 2): the Makefile makes it. It reads a currency
code list by a path relative to the working directory (`focus_validator/rules/currency_codes.csv`), so it runs in
`--work`, where that file is copied.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from usage_lake.app.jobs import IngestJob
from usage_lake.config.events import RunRequest
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.focus import focus_table, write_csv
from usage_lake.lake import LocalLake, parquet_bytes
from usage_lake.lake.layout import partition_key
from usage_lake.simulator import SimulatedOrg, Simulator

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
FIRST, END = date(2026, 11, 10), date(2026, 11, 17)
# What is true of Anthropic as a provider (focus-validator --show-applicability-criteria lists them all). Not claimed:
# availability zones, capacity reservations, commitment discounts, several pricing categories / billing account or
# sub account types, negotiated prices we could see, provisioned resources, resource types, currency differences,
# virtual currency.
CRITERIA = ("ACCOUNT_NAMING_SUPPORTED", "PUBLIC_PRICE_LIST_SUPPORTED", "USAGE_MEASUREMENT_SUPPORTED", "UNIT_PRICING_SUPPORTED",
            "SUB_ACCOUNT_SUPPORTED", "REGION_SUPPORTED", "TAGGING_SUPPORTED")
_CURRENCY_RULES = (
    "CostAndUsage-D-046-C", "CostAndUsage-D-047-C", "CostAndUsage-D-048-C", "CostAndUsage-D-050-C", "CostAndUsage-D-051-C",
    "CostAndUsage-D-052-C", "CostAndUsage-D-054-C", "CostAndUsage-D-055-C", "CostAndUsage-D-056-C",
    "PricingCurrencyContractedUnitPrice-C-001-M", "PricingCurrencyContractedUnitPrice-C-002-M",
    "PricingCurrencyEffectiveCost-C-001-M", "PricingCurrencyEffectiveCost-C-002-M", "PricingCurrencyEffectiveCost-C-003-M",
    "PricingCurrencyEffectiveCost-C-004-M", "PricingCurrencyListUnitPrice-C-001-M", "PricingCurrencyListUnitPrice-C-002-M",
    "PricingCurrencyListUnitPrice-C-003-M", "PricingCurrencyListUnitPrice-C-004-C", "PricingCurrencyListUnitPrice-C-005-C",
    "PricingCurrencyListUnitPrice-C-007-C", "PricingCurrencyListUnitPrice-C-008-M",
)
# reason -> (the files it applies to, the rule ids focus-validator 2.2.1 fails for it)
EXCEPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "the ConsumedQuantity nullability rule is conditioned on CommitmentDiscountStatus, a column only a dataset with "
    "commitment discounts carries; focus-validator fails the rule when the column is absent": (
        ("csv", "parquet"),
        ("ConsumedQuantity-C-000-C", "ConsumedQuantity-C-003-C", "ConsumedQuantity-C-004-C", "ConsumedQuantity-C-005-C",
         "ConsumedQuantity-C-006-C")),
    "the Admin API exposes no invoices: InvoiceId is null": (("csv", "parquet"), ("InvoiceId-C-005-C",)),
    "PricingCurrency* columns: the spec asks for them only with virtual currency or pricing and billing currencies that "
    "differ (Anthropic prices and bills in USD); focus-validator applies a rule when any one of its criteria is declared": (
        ("csv", "parquet"), _CURRENCY_RULES),
    "Tags and SkuPriceDetails are map<string,string> in Parquet (as in the AWS FOCUS export, for Athena); the CSV export "
    "writes them as JSON": (("parquet",), ("Tags-C-000-C", "Tags-C-001-M", "SkuPriceDetails-C-000-C", "SkuPriceDetails-C-001-M")),
}
TAGS = pa.map_(pa.string(), pa.string())


SHAPES = {"": True, "-null-geo": False}  # file suffix -> whether the cost report splits inference_geo


def fill(lake: LocalLake, *, cost_inference_geo: bool = True) -> None:
    """A week of the simulator's org through the real pipeline, with its organization and workspace snapshots."""
    org = SimulatedOrg.small()
    org.cost_inference_geo = cost_inference_geo
    workspaces = [w for w in org.workspace_ids if w]
    lake.put(partition_key("organization", FIRST), parquet_bytes(pa.table({"id": ["0f6d0c52-5b4d-4a3c-9e0f-simulated"],
                                                                           "name": ["Simulated Org"]})))
    lake.put(partition_key("workspaces", FIRST), parquet_bytes(pa.table({
        "id": workspaces, "name": [f"Workspace {i}" for i in range(1, len(workspaces) + 1)],
        "tags": pa.array([[("team", "search" if i % 2 else "platform"), ("env", "prod")] for i in range(len(workspaces))], TAGS)})))
    with Simulator(org, now=NOW) as sim:
        settings = Settings(base_url=sim.base_url, focus_include_estimated_priority=True)
        record = IngestJob(settings=settings, key=AdminKey(sim.admin_key), lake=lake).run(
            RunRequest(mode="backfill", start=FIRST, end=END, now=NOW))
    if record.outcome != "succeeded" or record.notes:
        raise SystemExit(f"filling the sample lake: {record.outcome} {record.notes}")


def failed_rules(validator: Path, data: Path, work: Path) -> tuple[set[str], int]:
    """The rule ids focus-validator fails (failure or error) for `data`, and how many rules it ran."""
    report = work / f"{data.stem}-{data.suffix[1:]}.xml"
    command = [str(validator.resolve()), "--data-file", str(data.resolve()), "--validate-version", "1.2", "--block-download",
               "--applicability-criteria", ",".join(CRITERIA), "--output-type", "unittest", "--output-destination", str(report.resolve())]
    run = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=900)
    if run.returncode != 0 or not report.exists():
        raise SystemExit(f"focus-validator did not run on {data.name} (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    failed, total = set(), 0
    for case in ET.parse(report).getroot().iter("testcase"):
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.get("name", "").split(" :: ")[0])
    return failed, total


def expected(kind: str) -> set[str]:
    return {rule for formats, rules in EXCEPTIONS.values() if kind in formats for rule in rules}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validator", type=Path, required=True, help="the focus-validator executable (its own venv)")
    parser.add_argument("--work", type=Path, default=Path("build/focus-check"))
    args = parser.parse_args(argv)
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    rules = work / "focus_validator" / "rules"
    rules.mkdir(parents=True)
    package = subprocess.run([str(args.validator.parent / "python"), "-c", "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy(Path(package) / "rules" / "currency_codes.csv", rules / "currency_codes.csv")

    for suffix, geo in SHAPES.items():
        lake = LocalLake(work / f"lake{suffix}")
        fill(lake, cost_inference_geo=geo)
        table = focus_table(lake, FIRST, END)
        pq.write_table(table, work / f"focus{suffix}.parquet")
        write_csv(table, str(work / f"focus{suffix}.csv"))
        print(f"focus sample{suffix or ''}: {table.num_rows} rows, {FIRST}..{END} (exclusive), from the simulator"
              + ("" if geo else " serving a cost report without inference_geo"))

    ok = True
    for suffix, kind in ((suffix, kind) for suffix in SHAPES for kind in ("parquet", "csv")):
        failed, total = failed_rules(args.validator, work / f"focus{suffix}.{kind}", work)
        unexpected, gone = failed - expected(kind), expected(kind) - failed
        label = f"focus{suffix}.{kind}"
        print(f"focus-validator {label}: {total} rules, {len(failed)} failed, all of them documented exceptions"
              if not unexpected and not gone else f"focus-validator {label}: {total} rules, {len(failed)} failed")
        for reason, (formats, ids) in EXCEPTIONS.items():
            if kind in formats:
                print(f"  exception ({len(ids)} rules): {reason}")
        if unexpected:
            ok = False
            print(f"  UNEXPECTED failures: {', '.join(sorted(unexpected))} (see {work}/focus{suffix}-{kind}.xml)")
        if gone:
            ok = False
            print(f"  documented exceptions that no longer fail (update EXCEPTIONS and docs/focus.md): {', '.join(sorted(gone))}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
