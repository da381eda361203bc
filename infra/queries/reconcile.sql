-- name: Reconcile the two billed sources per day and model (last 30 days)
-- description: Per UTC day and model: legacy billed (cost report), Analytics API billed without Priority Tier (analytics_cost), Priority Tier billed (Analytics API only), the estimate (usage x list prices), and the differences. analytics_minus_legacy should be 0 to the cent; a day that differs by more than $0.01 is also noted in that run's log. Billed lines of no model (web search, code execution; the Analytics API's too, as the cost report has them) are on their own row.
WITH legacy AS (
    SELECT dt, coalesce(model, '(no model: web search, code execution)') AS model, sum(amount_usd) AS legacy_billed_usd
    FROM cost_report
    WHERE dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
    GROUP BY 1, 2
),
analytics AS (
    SELECT dt,
           CASE WHEN cost_type = 'tokens' OR token_type IS NOT NULL THEN coalesce(model, '(no model: web search, code execution)') ELSE '(no model: web search, code execution)' END AS model,
           sum(CASE WHEN service_tier = 'priority' THEN 0 ELSE amount_usd END) AS analytics_billed_usd,
           sum(CASE WHEN service_tier = 'priority' THEN amount_usd ELSE 0 END) AS priority_billed_usd
    FROM analytics_cost
    WHERE dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
    GROUP BY 1, 2
),
estimate AS (
    SELECT dt, coalesce(model, '(no model: web search, code execution)') AS model,
           sum(CASE WHEN service_tier = 'priority' THEN 0 ELSE estimated_cost_usd END) AS estimated_usd
    FROM usage_messages
    WHERE dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
    GROUP BY 1, 2
),
days AS (
    SELECT dt, model FROM legacy
    UNION
    SELECT dt, model FROM analytics
)
SELECT d.dt,
       d.model,
       l.legacy_billed_usd,
       a.analytics_billed_usd,
       a.priority_billed_usd,
       e.estimated_usd,
       a.analytics_billed_usd - l.legacy_billed_usd AS analytics_minus_legacy,
       e.estimated_usd - l.legacy_billed_usd AS estimate_minus_legacy
FROM days d
LEFT JOIN legacy l ON l.dt = d.dt AND l.model = d.model
LEFT JOIN analytics a ON a.dt = d.dt AND a.model = d.model
LEFT JOIN estimate e ON e.dt = d.dt AND e.model = d.model
ORDER BY d.dt DESC, d.model
