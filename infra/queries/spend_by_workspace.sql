-- name: Spend by workspace (last 30 days)
-- description: Per workspace, billed USD (cost report), estimated USD (usage x list prices) and tokens. The default workspace has no id.
WITH used AS (
    SELECT coalesce(workspace_id, 'Default Workspace') AS workspace,
           sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens
               + cache_read_input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           sum(estimated_cost_usd) AS estimated_usd
    FROM usage_messages
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY coalesce(workspace_id, 'Default Workspace')
),
billed AS (
    SELECT coalesce(workspace_id, 'Default Workspace') AS workspace, sum(amount_usd) AS billed_usd
    FROM cost_report
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY coalesce(workspace_id, 'Default Workspace')
)
SELECT coalesce(u.workspace, b.workspace) AS workspace,
       b.billed_usd,
       u.estimated_usd,
       u.input_tokens,
       u.output_tokens
FROM used u
FULL OUTER JOIN billed b ON u.workspace = b.workspace
ORDER BY coalesce(b.billed_usd, u.estimated_usd) DESC NULLS LAST, workspace
