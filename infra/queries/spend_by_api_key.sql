-- name: Spend by API key (last 30 days)
-- description: Per API key, tokens and estimated USD (usage x list prices); the cost report has no per-key cost. Usage without a key (Console, Workbench) has no key id.
SELECT coalesce(api_key_id, 'Console / Workbench (no API key)') AS api_key,
       workspace_id,
       sum(uncached_input_tokens) AS uncached_input_tokens,
       sum(cache_creation_5m_input_tokens + cache_creation_1h_input_tokens) AS cache_write_tokens,
       sum(cache_read_input_tokens) AS cache_read_tokens,
       sum(output_tokens) AS output_tokens,
       sum(web_search_requests) AS web_search_requests,
       sum(estimated_cost_usd) AS estimated_usd,
       count_if(estimated_cost_usd IS NULL) AS unpriced_rows
FROM usage_messages
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
GROUP BY coalesce(api_key_id, 'Console / Workbench (no API key)'), workspace_id
ORDER BY estimated_usd DESC NULLS LAST, api_key, workspace_id
