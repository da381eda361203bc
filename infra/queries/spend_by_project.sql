-- name: Spend by project (last 30 days)
-- description: Estimated USD (usage x list prices) and tokens per project over the last 30 UTC days. The project is the label "project" of the API key, else of its workspace (LABELS file, workspace tags), else "(no project label)"; any other label works the same way, e.g. element_at(labels, 'team').
SELECT coalesce(element_at(labels, 'project'), '(no project label)') AS project,
       sum(estimated_cost_usd) AS estimated_usd,
       sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens
           + cache_read_input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       count(DISTINCT api_key_id) AS api_keys,
       count(DISTINCT workspace_name) AS workspaces
FROM usage_messages_named
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
GROUP BY coalesce(element_at(labels, 'project'), '(no project label)')
ORDER BY estimated_usd DESC NULLS LAST, project
