-- description: usage_messages with names and labels on every row: workspace_name, api_key_name and account_email from the latest organization snapshot (archived workspaces and keys included), the *_at_time names from the snapshot of the row's own day (null where that day has none), and labels (the API key's over its workspace's, latest). Filter on dt as on usage_messages; read a label with element_at(labels, 'project').
WITH api_key_names AS (
    SELECT id, max_by(name, dt) AS name
    FROM api_keys
    GROUP BY id
), workspace_names AS (
    SELECT id, max_by(name, dt) AS name
    FROM workspaces
    GROUP BY id
), user_emails AS (
    SELECT id, max_by(email, dt) AS email
    FROM users
    GROUP BY id
), latest_labels AS (
    SELECT entity_type, entity_id, map_from_entries(array_agg(ROW("key", "value"))) AS pairs
    FROM labels
    WHERE dt = (SELECT max(dt) FROM labels)
    GROUP BY entity_type, entity_id
)
SELECT u.*,
       CAST(CASE WHEN u.workspace_id IS NULL THEN 'Default Workspace' ELSE w.name END AS varchar) AS workspace_name,
       CAST(CASE WHEN u.workspace_id IS NULL THEN 'Default Workspace' ELSE w_then.name END AS varchar) AS workspace_name_at_time,
       CAST(CASE WHEN u.api_key_id IS NULL THEN 'Console / Workbench (no API key)' ELSE k.name END AS varchar) AS api_key_name,
       CAST(CASE WHEN u.api_key_id IS NULL THEN 'Console / Workbench (no API key)' ELSE k_then.name END AS varchar) AS api_key_name_at_time,
       CAST(a.email AS varchar) AS account_email,
       CAST(map_concat(coalesce(wl.pairs, CAST(MAP() AS map(varchar, varchar))),
                       coalesce(kl.pairs, CAST(MAP() AS map(varchar, varchar)))) AS map(varchar, varchar)) AS labels
FROM usage_messages u
LEFT JOIN api_key_names k ON k.id = u.api_key_id
LEFT JOIN api_keys k_then ON k_then.id = u.api_key_id AND k_then.dt = u.dt
LEFT JOIN workspace_names w ON w.id = u.workspace_id
LEFT JOIN workspaces w_then ON w_then.id = u.workspace_id AND w_then.dt = u.dt
LEFT JOIN user_emails a ON a.id = u.account_id
LEFT JOIN latest_labels kl ON kl.entity_type = 'api_key' AND kl.entity_id = u.api_key_id
LEFT JOIN latest_labels wl ON wl.entity_type = 'workspace' AND wl.entity_id = u.workspace_id
