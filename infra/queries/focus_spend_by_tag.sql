-- name: FOCUS: spend by tag, AWS and Anthropic (last 3 billing periods)
-- description: Effective cost per billing period, value of one tag (parameter FocusTagKey) and ServiceProviderName across the AWS FOCUS export and the Anthropic focus table (workspace tags and labels), through the focus_all view. AWS user tags may carry a "user:" prefix; both spellings are read. Untagged spend is "(untagged)".
SELECT billing_period,
       coalesce(element_at(Tags, '${FocusTagKey}'), element_at(Tags, 'user:${FocusTagKey}'), '(untagged)') AS tag_value,
       ServiceProviderName,
       sum(EffectiveCost) AS effective_cost,
       sum(BilledCost) AS billed_cost
FROM focus_all
WHERE billing_period >= date_format(date_add('month', -2, current_date), '%Y-%m')
GROUP BY 1, 2, 3
ORDER BY billing_period DESC, effective_cost DESC, tag_value, ServiceProviderName
