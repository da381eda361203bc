-- name: Busiest hours (last 7 days)
-- description: The 24 hourly buckets with the most tokens over the last 7 UTC days, with estimated USD and how many API keys and models were active.
SELECT bucket_start AS hour_start_utc,
       sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens
           + cache_read_input_tokens + output_tokens) AS total_tokens,
       sum(output_tokens) AS output_tokens,
       sum(estimated_cost_usd) AS estimated_usd,
       count(DISTINCT api_key_id) AS api_keys,
       count(DISTINCT model) AS models
FROM usage_messages
WHERE dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')
  AND bucket_width = '1h'
GROUP BY bucket_start
ORDER BY total_tokens DESC, hour_start_utc
LIMIT 24
