-- name: FOCUS: spend by provider, AWS and Anthropic (last 3 billing periods)
-- description: Billed and effective cost per billing period and ServiceProviderName across the AWS FOCUS export and the Anthropic focus table, through the focus_all view (create it first with the "create the focus_all view" query). Estimated Anthropic Priority Tier rows (FOCUS_INCLUDE_ESTIMATED_PRIORITY) are a line of their own.
SELECT billing_period,
       ServiceProviderName,
       x_CostBasis AS cost_basis,
       sum(BilledCost) AS billed_cost,
       sum(EffectiveCost) AS effective_cost,
       count(*) AS charges
FROM focus_all
WHERE billing_period >= date_format(date_add('month', -2, current_date), '%Y-%m')
GROUP BY billing_period, ServiceProviderName, x_CostBasis
ORDER BY billing_period DESC, billed_cost DESC, ServiceProviderName, cost_basis
