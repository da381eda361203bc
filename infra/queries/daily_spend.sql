-- name: Daily spend - billed beside estimated (last 30 days)
-- description: Per UTC day, billed USD from the cost report beside USD estimated from usage x list prices, with tokens. The cost report has a day only once it has ended (and leaves out Priority Tier), so today is estimated only.
WITH billed AS (
    SELECT dt, sum(amount_usd) AS billed_usd
    FROM cost_report
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY dt
),
estimated AS (
    SELECT dt,
           sum(estimated_cost_usd) AS estimated_usd,
           sum(uncached_input_tokens + cache_creation_5m_input_tokens + cache_creation_1h_input_tokens
               + cache_read_input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           count_if(estimated_cost_usd IS NULL) AS unpriced_rows
    FROM usage_messages
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY dt
)
SELECT coalesce(e.dt, b.dt) AS day_utc,
       b.billed_usd,
       e.estimated_usd,
       b.billed_usd - e.estimated_usd AS billed_minus_estimated_usd,
       e.input_tokens,
       e.output_tokens,
       e.unpriced_rows
FROM estimated e
FULL OUTER JOIN billed b ON e.dt = b.dt
ORDER BY day_utc DESC
