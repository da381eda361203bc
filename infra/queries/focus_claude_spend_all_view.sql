-- name: FOCUS: create the claude_spend_all view (Claude on the API and on Bedrock; run once, after focus_all)
-- description: Creates the view claude_spend_all over focus_all: this stack's Anthropic rows (x_Source anthropic_api) and the AWS FOCUS export's Claude-on-Bedrock rows (x_Source aws_bedrock), the latter matched by the Marketplace product name in ServiceName ('Claude ... (Amazon Bedrock Edition)', never a list of models). token_class (input, output, cache_read, cache_write, other) is parsed from our x_TokenType or, on the AWS side, from the usage type in SkuMeter (reserved throughput, TPM, is other). model_family is the word after 'Claude' in the model or product name. team is the tag named by FocusTagKey (or user:FocusTagKey), else the sub-account (AWS account, Anthropic workspace). Quantities are kept with their unit and never summed across sources (see docs/analytics.md for the unit assumptions).
CREATE OR REPLACE VIEW claude_spend_all AS
WITH claude AS (
    SELECT *,
           CASE WHEN ServiceProviderName = 'Anthropic' THEN 'anthropic_api' ELSE 'aws_bedrock' END AS source,
           CASE WHEN ServiceProviderName = 'Anthropic' THEN lower(coalesce(x_TokenType, ''))
                ELSE lower(coalesce(SkuMeter, '')) END AS meter,
           CASE WHEN ServiceProviderName = 'Anthropic' THEN x_Model
                ELSE trim(regexp_replace(ServiceName, '\s*\(Amazon Bedrock Edition\)\s*$', '')) END AS model_name
    FROM focus_all
    WHERE ServiceProviderName = 'Anthropic'
       OR (lower(ServiceName) LIKE 'claude%' AND lower(ServiceName) LIKE '%(amazon bedrock edition)%')
)
SELECT billing_period,
       ChargePeriodStart,
       ChargePeriodEnd,
       source AS x_Source,
       ServiceName,
       model_name AS model,
       coalesce(nullif(regexp_extract(lower(coalesce(model_name, '')), 'claude[- ](?:[0-9][0-9.-]* ?)?([a-z]+)', 1), ''), 'other') AS model_family,
       CASE WHEN meter LIKE '%reserved%' OR meter LIKE '%tpm%' THEN 'other'
            WHEN meter LIKE '%cacheread%' OR meter LIKE '%cache-read%' OR meter LIKE '%cache_read%' THEN 'cache_read'
            WHEN meter LIKE '%cachewrite%' OR meter LIKE '%cache-write%' OR meter LIKE '%cache_write%' OR meter LIKE '%cache_creation%' THEN 'cache_write'
            WHEN meter LIKE '%output%' THEN 'output'
            WHEN meter LIKE '%input%' THEN 'input'
            ELSE 'other' END AS token_class,
       SkuMeter AS usage_type,
       coalesce(element_at(Tags, '${FocusTagKey}'), element_at(Tags, 'user:${FocusTagKey}'), SubAccountName, SubAccountId, '(untagged)') AS team,
       SubAccountId,
       SubAccountName,
       ConsumedQuantity,
       ConsumedUnit,
       BilledCost,
       EffectiveCost,
       ListCost,
       BillingCurrency,
       x_CostBasis
FROM claude
