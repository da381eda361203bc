"""The FOCUS 1.2 rules (specification/columns/*.md at tag v1.2 of FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec) for
every Mandatory column and for each Conditional/Recommended column the `focus` table carries, checked row by row
on an Arrow table. `violations(table)` returns {rule: number of rows breaking it}; a test compares that with the
exceptions docs/focus.md documents, so a new violation fails and a documented one that disappears does too."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pyarrow as pa

MANDATORY = (  # FOCUS 1.2 "Feature level: Mandatory"
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "ServiceCategory", "ServiceName",
)
PROVIDER_1_3 = ("ServiceProviderName", "HostProviderName")
DECIMALS = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost", "ListUnitPrice", "PricingQuantity", "ConsumedQuantity")
DATETIMES = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
NOT_NULL = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
            "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
            "ProviderName", "PublisherName", "ServiceCategory", "ServiceName", "ChargeFrequency", "ServiceSubcategory",
            *PROVIDER_1_3)
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
CHARGE_FREQUENCIES = {"One-Time", "Recurring", "Usage-Based"}
SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media", "Migration",
    "Mobile", "Networking", "Security", "Storage", "Web", "Other",
}
AI_SUBCATEGORIES = {"AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing",
                    "Other (AI and Machine Learning)"}
# UnitFormat: "<plural-units>", "<quantity> <plural-units>" (count-based units are capitalised nouns)
UNIT = re.compile(r"(\d+ )?[A-Z][A-Za-z]*s")
CURRENCY = re.compile(r"[A-Z]{3}")
PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*")
CUSTOM = re.compile(r"x_[A-Z][A-Za-z0-9]*")


def violations(table: pa.Table) -> dict[str, int]:
    found: Counter[str] = Counter()
    names = table.column_names
    for name in (*MANDATORY, *PROVIDER_1_3):
        if name not in names:
            found[f"{name}: MUST be present"] += 1
    for name in DECIMALS:
        if name in names and not pa.types.is_decimal(table.schema.field(name).type):
            found[f"{name}: MUST be of type Decimal"] += 1
    for name in DATETIMES:
        kind = table.schema.field(name).type
        if not (pa.types.is_timestamp(kind) and kind.tz == "UTC"):
            found[f"{name}: MUST be a UTC Date/Time"] += 1
    custom = [n for n in names if not PASCAL.fullmatch(n)]
    if any(not CUSTOM.fullmatch(n) for n in custom):
        found["ColumnHandling: custom columns MUST be prefixed x_"] += 1
    if names[len(names) - len(custom):] != custom:
        found["ColumnHandling: custom columns SHOULD follow all FOCUS columns"] += 1
    for row in table.to_pylist():
        for rule in _row_violations(row):
            found[rule] += 1
    return dict(found)


def _row_violations(r: dict) -> list[str]:  # noqa: C901 - one line per rule reads best
    out = []

    def rule(ok: bool, text: str) -> None:
        if not ok:
            out.append(text)

    for name in NOT_NULL:
        rule(r[name] is not None, f"{name}: MUST NOT be null")
    usage = r["ChargeCategory"] == "Usage"
    rule(r["ChargeCategory"] in CHARGE_CATEGORIES, "ChargeCategory: MUST be one of the allowed values")
    rule(r["ChargeClass"] in (None, "Correction"), "ChargeClass: MUST be null or 'Correction'")
    rule(r["ChargeFrequency"] in CHARGE_FREQUENCIES, "ChargeFrequency: MUST be one of the allowed values")
    rule(not (r["ChargeCategory"] == "Purchase" and r["ChargeFrequency"] == "Usage-Based"),
         "ChargeFrequency: MUST NOT be 'Usage-Based' for a Purchase")
    rule(r["ChargeDescription"] is not None, "ChargeDescription: SHOULD NOT be null")
    rule(r["ServiceCategory"] in SERVICE_CATEGORIES, "ServiceCategory: MUST be one of the allowed values")
    rule(r["ServiceCategory"] != "AI and Machine Learning" or r["ServiceSubcategory"] in AI_SUBCATEGORIES,
         "ServiceSubcategory: MUST be an allowed value with ServiceCategory as its parent")
    rule(r["BillingCurrency"] is not None and CURRENCY.fullmatch(r["BillingCurrency"]) is not None,
         "BillingCurrency: MUST conform to CurrencyFormat")
    start, end = r["BillingPeriodStart"], r["BillingPeriodEnd"]
    if start and end:
        rule(start < end and start.day == 1 and end.day == 1 and start.time() == end.time() == start.time().min,
             "BillingPeriodStart/End: MUST bound a billing period (a calendar month here)")
    charge_start, charge_end = r["ChargePeriodStart"], r["ChargePeriodEnd"]
    if charge_start and charge_end:
        rule(charge_start < charge_end, "ChargePeriodEnd: MUST be the exclusive end bound after ChargePeriodStart")
        if start and end:
            rule(start <= charge_start and charge_end <= end, "ChargePeriod: MUST lie within its billing period")
    # quantities and units
    rule((r["PricingUnit"] is None) == (r["PricingQuantity"] is None), "PricingUnit: MUST be null exactly when PricingQuantity is")
    rule((r["ConsumedUnit"] is None) == (r["ConsumedQuantity"] is None), "ConsumedUnit: MUST be null exactly when ConsumedQuantity is")
    rule(usage or r["ConsumedQuantity"] is None, "ConsumedQuantity: MUST be null when ChargeCategory is not Usage")
    rule(not usage or r["ConsumedQuantity"] is not None, "ConsumedQuantity: MUST NOT be null for Usage")
    rule(not usage or r["PricingQuantity"] is not None, "PricingQuantity: MUST NOT be null for Usage")
    rule(not usage or r["ListUnitPrice"] is not None, "ListUnitPrice: MUST NOT be null for Usage")
    for name in ("PricingUnit", "ConsumedUnit"):
        rule(r[name] is None or UNIT.fullmatch(r[name]) is not None, f"{name}: SHOULD conform to UnitFormat")
    # costs
    for name in ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"):
        rule(r[name] is None or isinstance(r[name], Decimal) and r[name].is_finite(), f"{name}: MUST be a valid decimal")
    rule(r["ListUnitPrice"] is None or r["ListUnitPrice"] >= 0, "ListUnitPrice: MUST be non-negative")
    if r["ListUnitPrice"] is not None and r["PricingQuantity"] is not None and r["ChargeClass"] != "Correction":
        rule(r["ListUnitPrice"] * r["PricingQuantity"] == r["ListCost"], "ListCost: MUST be ListUnitPrice x PricingQuantity")
    if r["ListUnitPrice"] is None:
        rule(r["ListCost"] == r["BilledCost"], "ListCost: MUST match BilledCost for a charge with no unit price")
    rule(r["ContractedCost"] == r["BilledCost"], "ContractedCost: MUST match BilledCost with no ContractedUnitPrice")
    if r["ChargeCategory"] not in ("Usage", "Purchase"):
        rule(r["EffectiveCost"] == r["BilledCost"], "EffectiveCost: MUST match BilledCost for this ChargeCategory")
    # ids and names
    rule((r["RegionName"] is None) == (r["RegionId"] is None), "RegionName: MUST be null exactly when RegionId is")
    rule((r["SubAccountName"] is None) == (r["SubAccountId"] is None), "SubAccountName: MUST be null exactly when SubAccountId is")
    rule(r["SkuId"] is not None or r["SkuMeter"] is None, "SkuMeter: MUST be null when SkuId is")
    rule(not usage or r["SkuId"] is not None, "SkuId: MUST NOT be null for Usage")
    rule(not usage or r["SkuPriceId"] is not None, "SkuPriceId: MUST NOT be null for Usage")
    rule(r["SkuPriceId"] is not None or r["SkuPriceDetails"] is None, "SkuPriceDetails: MUST be null when SkuPriceId is")
    for key, _ in r["SkuPriceDetails"] or []:
        rule(key.startswith("x_"), "SkuPriceDetails: provider-defined property keys MUST begin with x_")
    tags = r["Tags"] or []
    rule(len({k for k, _ in tags}) == len(tags), "Tags: keys MUST be unique")
    rule(all(isinstance(v, str) for _, v in tags), "Tags: values MUST be strings (finalized tags)")
    rule(r["InvoiceId"] is None, "InvoiceId: MUST be null while no invoice is known for the charge")
    return out
