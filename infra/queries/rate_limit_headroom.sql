-- name: Rate-limit headroom per model and workspace (last 7 days)
-- description: Per model and workspace, the busiest hour's input and output tokens of the last 7 days divided by 60 - a per-minute LOWER BOUND (a minute inside that hour may have been busier) - against the configured per-minute limits of the latest rate_limits snapshot (a workspace's override, else the organization's limit for the model). headroom_* is 1 - rate / limit.
WITH hourly AS (
    SELECT model, coalesce(workspace_id, 'Default Workspace') AS workspace_id, bucket_start,
           sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens
    FROM usage_messages
    WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d') AND bucket_width = '1h'
    GROUP BY 1, 2, 3
),
busiest AS (
    SELECT model, workspace_id, max(input_tokens) / 60.0 AS input_tokens_per_minute_at_least,
           max(output_tokens) / 60.0 AS output_tokens_per_minute_at_least
    FROM hourly
    GROUP BY 1, 2
),
latest AS (
    SELECT max(dt) AS dt FROM rate_limits WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')
),
limits AS (
    SELECT coalesce(r.workspace_id, '(organization)') AS scope, m.model,
           max(CASE WHEN r.limit_type = 'input_tokens_per_minute' THEN r.limit_value END) AS input_limit,
           max(CASE WHEN r.limit_type = 'output_tokens_per_minute' THEN r.limit_value END) AS output_limit
    FROM rate_limits r
    CROSS JOIN UNNEST(r.models) AS m (model)
    WHERE r.dt = (SELECT dt FROM latest)
    GROUP BY 1, 2
)
SELECT b.model,
       b.workspace_id,
       b.input_tokens_per_minute_at_least,
       coalesce(w.input_limit, o.input_limit) AS input_tokens_per_minute_limit,
       1 - b.input_tokens_per_minute_at_least / nullif(coalesce(w.input_limit, o.input_limit), 0) AS headroom_input,
       b.output_tokens_per_minute_at_least,
       coalesce(w.output_limit, o.output_limit) AS output_tokens_per_minute_limit,
       1 - b.output_tokens_per_minute_at_least / nullif(coalesce(w.output_limit, o.output_limit), 0) AS headroom_output
FROM busiest b
LEFT JOIN limits w ON w.scope = b.workspace_id AND w.model = b.model
LEFT JOIN limits o ON o.scope = '(organization)' AND o.model = b.model
ORDER BY least(coalesce(1 - b.input_tokens_per_minute_at_least / nullif(coalesce(w.input_limit, o.input_limit), 0), 1),
               coalesce(1 - b.output_tokens_per_minute_at_least / nullif(coalesce(w.output_limit, o.output_limit), 0), 1)),
         b.model, b.workspace_id
