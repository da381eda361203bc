-- name: Month to date against budget
-- description: Spend this UTC month on the cost basis the budget alerts use - each day billed once the cost report has it, until then estimated without Priority Tier (usage x list prices, the usage the cost report bills) - against the MonthlyBudgetUsd parameter, with Priority Tier estimated beside it and a straight-line forecast for the month.
WITH billed AS (
    SELECT dt, sum(amount_usd) AS billed_usd
    FROM cost_report
    WHERE dt >= date_format(date_trunc('month', current_date), '%Y-%m-%d')
    GROUP BY dt
),
estimated AS (
    -- Priority Tier is left out, as the cost report leaves it out: a day's figure does not jump when it is billed
    SELECT dt,
           sum(CASE WHEN service_tier = 'priority' THEN 0 ELSE estimated_cost_usd END) AS estimated_usd,
           sum(CASE WHEN service_tier = 'priority' THEN estimated_cost_usd ELSE 0 END) AS priority_estimated_usd
    FROM usage_messages
    WHERE dt >= date_format(date_trunc('month', current_date), '%Y-%m-%d')
    GROUP BY dt
),
days AS (
    SELECT coalesce(e.dt, b.dt) AS dt,
           b.billed_usd,
           e.estimated_usd,
           e.priority_estimated_usd,
           coalesce(b.billed_usd, e.estimated_usd) AS spend_usd
    FROM estimated e
    FULL OUTER JOIN billed b ON e.dt = b.dt
),
totals AS (
    SELECT sum(spend_usd) AS month_to_date_usd,
           sum(billed_usd) AS billed_usd,
           max(CASE WHEN billed_usd IS NOT NULL THEN dt END) AS billed_through,
           sum(CASE WHEN billed_usd IS NULL THEN estimated_usd END) AS estimated_not_yet_billed_usd,
           sum(priority_estimated_usd) AS priority_tier_estimated_usd,
           -- the budget is the stack's MonthlyBudgetUsd parameter; empty leaves it NULL
           nullif(CAST(nullif('${MonthlyBudgetUsd}', '') AS decimal(38, 2)), 0) AS budget_usd,
           day_of_month(current_date) AS days_elapsed,
           day_of_month(last_day_of_month(current_date)) AS days_in_month
    FROM days
)
SELECT month_to_date_usd,
       billed_usd,
       billed_through,
       estimated_not_yet_billed_usd,
       priority_tier_estimated_usd,
       budget_usd,
       -- decimals rounded for reading (cents, tenths of a percent), never a float: exact arithmetic in Athena
       CAST(100 * month_to_date_usd / budget_usd AS decimal(38, 1)) AS percent_of_budget,
       CAST(month_to_date_usd * days_in_month / days_elapsed AS decimal(38, 2)) AS forecast_usd,
       CAST(100 * month_to_date_usd * days_in_month / days_elapsed / budget_usd AS decimal(38, 1)) AS forecast_percent_of_budget
FROM totals
