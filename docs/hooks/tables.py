"""The lake's tables page (docs/tables.md), generated from `usage_lake.lake.schema` so it cannot drift.

`python docs/hooks/tables.py` rewrites docs/tables.md; `make docs` does it before building, and
tests/infra/test_docs.py fails when the committed page differs from what this renders. As an MkDocs hook
(`hooks:` in mkdocs.yml) it also renders the page at build time, whatever the committed copy says.
"""

from __future__ import annotations

import sys
from pathlib import Path

from usage_lake.lake.schema import TABLES, athena_type

PAGE = Path(__file__).resolve().parents[1] / "tables.md"

# What one row of each table is, and what its columns mean beyond their names. A table of the schema without an
# entry here fails the render (and so the build and the docs test): a new table needs its sentence.
ABOUT: dict[str, str] = {
    "usage_messages": (
        "The Messages Usage Report: one row per time bucket x group (`api_key_id`, `workspace_id`, `model`, "
        "`service_tier`, `context_window`, `inference_geo`). Dimensions are null as the API gives them: a null "
        "`workspace_id` is the default workspace, a null `api_key_id` is Console / Workbench usage. "
        "`estimated_cost_usd` is tokens x list price, exact; null for a model missing from the price table."
    ),
    "cost_report": (
        "The Cost Report: one row per UTC day x workspace x description. `amount_cents` is the API's decimal string "
        "of cents, exact; `amount_usd` is the same divided by 100 (null for a non-USD currency)."
    ),
    "runs": (
        "The run log: one row per run, written when the run starts and rewritten as it goes. `outcome` is `running`, "
        "`succeeded`, `partial`, `failed`, `alerts_failed` or `interrupted`; `days` lists what happened to each day "
        "(`written`, `kept`, `empty`, `not_ready`, `incomplete`); `errors` lists endpoints that failed without failing "
        "the run; `resume_from` is the first day a backfill did not finish. A `running` row whose `updated_at` is more "
        "than an hour old belongs to a run that died (`usage-lake runs` shows it as `abandoned`)."
    ),
    "claude_code_usage": (
        "The Claude Code usage report: one row per record (a UTC day x actor x terminal, local and remote sessions "
        "apart). `date` is a reserved word in SQL: quote it (`\"date\"`). API actors carry the key's name, not its id. "
        "The tool counts are null when the record does not mention the tool; `other_tool_actions` holds tools the "
        "reference does not list."
    ),
    "claude_code_models": (
        "The Claude Code usage report's models: one row per record x model. `estimated_cost_cents` is the API's JSON "
        "number of cents, read from its text without a float; `estimated_cost_usd` is null for a non-USD currency."
    ),
    "organization": "The organization, one snapshot a UTC day.",
    "workspaces": "Every workspace, archived ones included, one snapshot a UTC day.",
    "api_keys": (
        "Every API key of every status, one snapshot a UTC day. `workspace_id` is the deprecated top-level field, "
        "else `scope.workspace_id` (null for default-workspace and organization-scoped keys); `principal_type` is "
        "`user` or `service_account`, whichever of the two documented shapes the API sends."
    ),
    "users": "The organization's users, one snapshot a UTC day.",
    "invites": "Open and past invites, one snapshot a UTC day.",
    "workspace_members": "The members of each active workspace, one snapshot a UTC day.",
    "labels": (
        "The labels in force on the day (rewritten only when they change): `entity_type` is `api_key` or `workspace`, "
        "`source` is `file` (`LABELS`), `agent_map` (`ANTHROPIC_AGENT_MAP_JSON`) or `workspace_tags`. "
        "See [Names and labels](lake.md#names-and-labels)."
    ),
    "spend_limits": (
        "Anthropic's spend caps (the Spend Limits API), one snapshot a UTC day: one row per cap; `amount_cents` is "
        "null for no cap. `CAP_ALERTS` alerts at percentages of each cap."
    ),
    "rate_limits": (
        "The configured rate limits (the Rate Limits API), one snapshot a UTC day: one row per limit and limiter "
        "type; a null `workspace_id` is the organization's limit, else a workspace's override."
    ),
    "analytics_usage": (
        "The Usage and Cost Analytics API's usage (beta, with `ANALYTICS_API=auto`): hourly, with request counts and "
        "the actor, beside `usage_messages`, never instead of it. See [Analytics](analytics.md)."
    ),
    "analytics_cost": (
        "The Analytics API's billed cost per hour, API key, model, token type and service tier (Priority Tier "
        "included): `amount_cents` after discounts and before credits, `list_amount_cents` at list price."
    ),
    "focus": (
        "The cost report in FinOps FOCUS 1.2 columns plus the 1.3 provider columns, derived from each stored cost "
        "day and its usage day; see [FOCUS](focus.md)."
    ),
    "observed_prices": (
        "The unit prices the bill shows, derived from each stored `focus` day: per day, model, token type, tier, "
        "context window and geo, the billed dollars, the tokens, the unit price and the list price in force with "
        "their ratio. See [Prices](prices.md)."
    ),
}


def render() -> str:
    missing = sorted(set(TABLES) - set(ABOUT))
    stale = sorted(set(ABOUT) - set(TABLES))
    if missing or stale:
        raise SystemExit(f"docs/hooks/tables.py: describe the table(s) {missing} and drop {stale} (usage_lake.lake.schema.TABLES)")
    lines = [
        "# Tables",
        "",
        "<!-- Generated from usage_lake.lake.schema by docs/hooks/tables.py: edit those, not this page. -->",
        "",
        "The column names and types are the contract with Athena users: columns are added, never renamed or retyped.",
        "Every table is partitioned by `dt` (`YYYY-MM-DD`, the UTC day; a snapshot's day is the day it was taken) "
        "with partition projection, so filter on `dt` and Athena reads only those days.",
        "Timestamps are UTC milliseconds, money is `decimal(38,12)` cents and `decimal(38,14)` dollars, counters are `bigint`.",
        "The snapshot tables carry the API's fields under their own names, nested objects flattened to `<object>_<field>`.",
        "",
        f"{len(TABLES)} tables: " + ", ".join(f"[`{name}`](#{name})" for name in TABLES) + ".",
        "",
    ]
    for name, schema in TABLES.items():
        lines += [f"## {name}", "", ABOUT[name], "", "| column | Athena type | null |", "|---|---|---|"]
        for field in schema:
            lines.append(f"| `{field.name}` | `{_escape(athena_type(field.type))}` | {'yes' if field.nullable else 'never'} |")
        lines += ["| `dt` | `string` (partition) | never |", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def on_files(files, config):  # noqa: ANN001 - the MkDocs hook: the page as rendered now, not as committed
    page = files.get_file_from_path("tables.md")
    if page is not None:
        page.content_string = render()
    return files


if __name__ == "__main__":
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(Path.cwd()) if PAGE.is_relative_to(Path.cwd()) else PAGE}", file=sys.stderr)
