-- name: Claude Code by user (last 30 days)
-- description: Per Claude Code user (e-mail) or API key (by name, as the report gives it) over the last 30 UTC days: days active, sessions, lines added and removed, commits, pull requests, accepted and rejected edits, tokens and the report's estimated cost in USD.
WITH activity AS (
    SELECT actor_type,
           coalesce(actor_email_address, actor_api_key_name) AS actor,
           count(DISTINCT "date") AS days_active,
           sum(num_sessions) AS sessions,
           sum(lines_added) AS lines_added,
           sum(lines_removed) AS lines_removed,
           sum(commits) AS commits,
           sum(pull_requests) AS pull_requests,
           sum(coalesce(edit_tool_accepted, 0) + coalesce(multi_edit_tool_accepted, 0) + coalesce(write_tool_accepted, 0)
               + coalesce(notebook_edit_tool_accepted, 0)) AS edits_accepted,
           sum(coalesce(edit_tool_rejected, 0) + coalesce(multi_edit_tool_rejected, 0) + coalesce(write_tool_rejected, 0)
               + coalesce(notebook_edit_tool_rejected, 0)) AS edits_rejected
    FROM claude_code_usage
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY actor_type, coalesce(actor_email_address, actor_api_key_name)
),
cost AS (
    SELECT actor_type,
           coalesce(actor_email_address, actor_api_key_name) AS actor,
           sum(input_tokens + cache_read_tokens + cache_creation_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           sum(estimated_cost_usd) AS estimated_usd
    FROM claude_code_models
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY actor_type, coalesce(actor_email_address, actor_api_key_name)
)
SELECT a.actor_type,
       a.actor,
       a.days_active,
       a.sessions,
       a.lines_added,
       a.lines_removed,
       a.commits,
       a.pull_requests,
       a.edits_accepted,
       a.edits_rejected,
       c.input_tokens,
       c.output_tokens,
       c.estimated_usd
FROM activity a
LEFT JOIN cost c ON c.actor_type = a.actor_type AND c.actor = a.actor
ORDER BY c.estimated_usd DESC NULLS LAST, a.actor
