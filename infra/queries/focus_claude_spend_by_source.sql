-- name: FOCUS: Claude spend by source, model family and team (last 3 billing periods)
-- description: Effective and billed cost of Claude per billing period, source (anthropic_api, aws_bedrock), model family and team, through the claude_spend_all view (create it first with the claude_spend_all named query). Dollars only: the AWS usage amount's unit is not settled, so tokens are not summed across sources.
SELECT billing_period,
       x_Source,
       model_family,
       team,
       sum(EffectiveCost) AS effective_cost,
       sum(BilledCost) AS billed_cost
FROM claude_spend_all
WHERE billing_period >= date_format(date_add('month', -2, current_date), '%Y-%m')
GROUP BY 1, 2, 3, 4
ORDER BY billing_period DESC, effective_cost DESC, x_Source, model_family, team
