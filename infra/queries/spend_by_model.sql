-- name: Spend by model with cache hit rate (last 30 days)
-- description: Per model, billed USD (cost report) and estimated USD (usage x list prices), tokens by kind, and the cache hit rate - cache reads over all input tokens. Billed lines that belong to no model (web search, code execution) are on their own row.
WITH used AS (
    SELECT model,
           sum(uncached_input_tokens) AS uncached_input_tokens,
           sum(cache_creation_5m_input_tokens + cache_creation_1h_input_tokens) AS cache_write_tokens,
           sum(cache_read_input_tokens) AS cache_read_tokens,
           sum(output_tokens) AS output_tokens,
           sum(web_search_requests) AS web_search_requests,
           sum(estimated_cost_usd) AS estimated_usd
    FROM usage_messages
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY model
),
billed AS (
    SELECT coalesce(model, '(no model: web search, code execution)') AS model, sum(amount_usd) AS billed_usd
    FROM cost_report
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY coalesce(model, '(no model: web search, code execution)')
)
SELECT coalesce(u.model, b.model) AS model,
       b.billed_usd,
       u.estimated_usd,
       u.uncached_input_tokens,
       u.cache_write_tokens,
       u.cache_read_tokens,
       u.output_tokens,
       u.web_search_requests,
       CAST(u.cache_read_tokens AS double)
           / nullif(u.uncached_input_tokens + u.cache_write_tokens + u.cache_read_tokens, 0) AS cache_hit_rate
FROM used u
FULL OUTER JOIN billed b ON u.model = b.model
ORDER BY coalesce(b.billed_usd, u.estimated_usd) DESC NULLS LAST, model
