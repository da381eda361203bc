"""The issue-18 report views: `reconcile` (the two billed sources and the estimate, per day and model) and
`rate_limit_headroom` (the busiest hour per model and workspace against the configured per-minute limits).

Same questions as the saved Athena queries `infra/queries/reconcile.sql` and `rate_limit_headroom.sql`, over a
window of days, as `View`s for the terminal, CSV, JSON and the HTML report.
"""

from __future__ import annotations

from usage_lake.reporting.query import LakeDB
from usage_lake.reporting.views import DEFAULT_WORKSPACE, NO_MODEL, Column, View, Window

__all__ = ["HEADROOM_TABLES", "RECONCILE_TABLES", "headroom", "reconcile"]

RECONCILE_TABLES = ("cost_report", "analytics_cost", "usage_messages")
HEADROOM_TABLES = ("usage_messages", "rate_limits")
TOLERANCE = "0.01"


def reconcile(db: LakeDB, window: Window) -> View:
    """Per UTC day and model: legacy billed, Analytics API billed (Priority Tier apart), the estimate, the differences."""
    where = "dt >= $start AND dt < $end"
    sql = f"""
        WITH legacy AS (SELECT dt, coalesce(model, '{NO_MODEL}') AS model, sum(amount_usd) AS legacy_billed_usd
                        FROM cost_report WHERE {where} GROUP BY 1, 2),
             -- as the cost report has it: a model for token lines only (web search, code execution: no model)
             analytics AS (SELECT dt, CASE WHEN cost_type = 'tokens' OR token_type IS NOT NULL THEN coalesce(model, '{NO_MODEL}')
                                           ELSE '{NO_MODEL}' END AS model,
                                  sum(amount_usd) FILTER (WHERE service_tier IS DISTINCT FROM 'priority') AS analytics_billed_usd,
                                  coalesce(sum(amount_usd) FILTER (WHERE service_tier = 'priority'), 0) AS priority_billed_usd
                           FROM analytics_cost WHERE {where} GROUP BY 1, 2),
             estimate AS (SELECT dt, coalesce(model, '{NO_MODEL}') AS model,
                                 sum(estimated_cost_usd) FILTER (WHERE service_tier IS DISTINCT FROM 'priority') AS estimated_usd
                          FROM usage_messages WHERE {where} GROUP BY 1, 2),
             keys AS (SELECT dt, model FROM legacy UNION SELECT dt, model FROM analytics)
        SELECT CAST(k.dt AS DATE) AS day, k.model, l.legacy_billed_usd, a.analytics_billed_usd, a.priority_billed_usd,
               e.estimated_usd, a.analytics_billed_usd - l.legacy_billed_usd AS analytics_minus_legacy,
               e.estimated_usd - l.legacy_billed_usd AS estimate_minus_legacy
        FROM keys k
        LEFT JOIN legacy l USING (dt, model) LEFT JOIN analytics a USING (dt, model) LEFT JOIN estimate e USING (dt, model)
        ORDER BY k.dt, k.model"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    differing = sorted({r["day"] for r in table.to_pylist() if r["analytics_minus_legacy"] is not None
                        and abs(r["analytics_minus_legacy"]) > float(TOLERANCE)})
    notes = ["legacy: the cost report (no Priority Tier); analytics: the Usage and Cost Analytics API (beta) without Priority "
             "Tier, which it bills apart (priority); estimate: usage x list prices without Priority Tier."]
    if not db.has("analytics_cost"):
        notes.append("The lake holds no analytics_cost yet (ANALYTICS_API=off, or the API is not available to this key).")
    if differing:
        notes.append(f"{len(differing)} day(s) whose two billed totals differ by more than ${TOLERANCE} for some model: "
                     + ", ".join(str(d) for d in differing))
    columns = [Column("day", "day", "day", total=False), Column("model", "model", "text", total=False),
               Column("legacy_billed_usd", "legacy billed", "usd"), Column("analytics_billed_usd", "analytics billed", "usd"),
               Column("priority_billed_usd", "priority billed", "usd"), Column("estimated_usd", "estimate", "usd"),
               Column("analytics_minus_legacy", "analytics - legacy", "usd"), Column("estimate_minus_legacy", "estimate - legacy", "usd")]
    return View("reconcile", f"Billed twice: the cost report against the Analytics API, {window}", table, columns, notes)


def headroom(db: LakeDB, window: Window) -> View:
    """Per model and workspace: the busiest hour's input and output tokens / 60 (a lower bound of the busiest minute)
    against the latest configured per-minute limits (a workspace's override, else the organization's)."""
    limits = """
        latest AS (SELECT max(dt) AS dt FROM rate_limits),
        lim AS (SELECT coalesce(workspace_id, '(organization)') AS scope, m.model,
                       max(limit_value) FILTER (WHERE limit_type = 'input_tokens_per_minute') AS input_limit,
                       max(limit_value) FILTER (WHERE limit_type = 'output_tokens_per_minute') AS output_limit
                FROM rate_limits, unnest(models) AS m(model) WHERE dt = (SELECT dt FROM latest) GROUP BY 1, 2)""" \
        if db.has("rate_limits") else \
        "lim AS (SELECT CAST(NULL AS VARCHAR) AS scope, CAST(NULL AS VARCHAR) AS model, CAST(NULL AS BIGINT) AS input_limit, " \
        "CAST(NULL AS BIGINT) AS output_limit WHERE false)"
    sql = f"""
        WITH hourly AS (SELECT model, coalesce(workspace_id, '{DEFAULT_WORKSPACE}') AS workspace, workspace_id, bucket_start,
                               sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens) AS input_tokens,
                               sum(output_tokens) AS output_tokens
                        FROM usage_messages WHERE dt >= $start AND dt < $end AND bucket_width = '1h' GROUP BY 1, 2, 3, 4),
             busiest AS (SELECT model, workspace, any_value(workspace_id) AS workspace_id,
                                CAST(max(input_tokens) / 60 AS BIGINT) AS input_per_minute_at_least,
                                CAST(max(output_tokens) / 60 AS BIGINT) AS output_per_minute_at_least
                         FROM hourly GROUP BY 1, 2),
             {limits}
        SELECT b.model, b.workspace, b.input_per_minute_at_least, coalesce(w.input_limit, o.input_limit) AS input_limit,
               round(1 - b.input_per_minute_at_least / nullif(coalesce(w.input_limit, o.input_limit), 0), 4) AS input_headroom,
               b.output_per_minute_at_least, coalesce(w.output_limit, o.output_limit) AS output_limit,
               round(1 - b.output_per_minute_at_least / nullif(coalesce(w.output_limit, o.output_limit), 0), 4) AS output_headroom
        FROM busiest b
        LEFT JOIN lim w ON w.scope = b.workspace_id AND w.model = b.model
        LEFT JOIN lim o ON o.scope = '(organization)' AND o.model = b.model
        ORDER BY least(coalesce(input_headroom, 1), coalesce(output_headroom, 1)), b.model, b.workspace"""
    table = db.arrow(sql, {"start": window.start.isoformat(), "end": window.end.isoformat()})
    notes = ["per minute = the busiest hour's tokens / 60: a LOWER BOUND (a minute inside that hour may have been busier); "
             "hourly usage buckets only. Limits: the latest rate_limits snapshot, a workspace's override before the organization's."]
    if not db.has("rate_limits"):
        notes.append("The lake holds no rate_limits snapshot (the Rate Limits API is not available to this key, or not fetched yet).")
    columns = [Column("model", "model", "text", total=False), Column("workspace", "workspace", "text", total=False),
               Column("input_per_minute_at_least", "input/min (at least)", total=False), Column("input_limit", "input limit", total=False),
               Column("input_headroom", "input headroom", "rate", total=False),
               Column("output_per_minute_at_least", "output/min (at least)", total=False), Column("output_limit", "output limit", total=False),
               Column("output_headroom", "output headroom", "rate", total=False)]
    return View("rate_limit_headroom", f"Rate-limit headroom (busiest hour / 60, a lower bound), {window}", table, columns, notes, totals=False)
