-- description: usage_messages with names and labels on every row: workspace_name, api_key_name and account_email from the latest organization snapshot (archived workspaces and keys included), the *_at_time names and labels (the API key's over its workspace's) from the snapshot in force on the row's own day (the latest on or before it, else the earliest: the rule of docs/snapshots.md). Filter on dt as on usage_messages; read a label with element_at(labels, 'project').
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
), api_key_days AS (
    SELECT dt, lag(dt) OVER (ORDER BY dt) AS previous, lead(dt) OVER (ORDER BY dt) AS next
    FROM (SELECT DISTINCT dt FROM api_keys)
), api_keys_in_force AS (
    SELECT k.id, k.name, CASE WHEN d.previous IS NULL THEN '0001-01-01' ELSE k.dt END AS valid_from,
           coalesce(d.next, '9999-12-31') AS valid_to
    FROM api_keys k
    JOIN api_key_days d ON d.dt = k.dt
), workspace_days AS (
    SELECT dt, lag(dt) OVER (ORDER BY dt) AS previous, lead(dt) OVER (ORDER BY dt) AS next
    FROM (SELECT DISTINCT dt FROM workspaces)
), workspaces_in_force AS (
    SELECT w.id, w.name, CASE WHEN d.previous IS NULL THEN '0001-01-01' ELSE w.dt END AS valid_from,
           coalesce(d.next, '9999-12-31') AS valid_to
    FROM workspaces w
    JOIN workspace_days d ON d.dt = w.dt
), label_days AS (
    SELECT dt, lag(dt) OVER (ORDER BY dt) AS previous, lead(dt) OVER (ORDER BY dt) AS next
    FROM (SELECT DISTINCT dt FROM labels)
), labels_in_force AS (
    SELECT l.entity_type, l.entity_id, CASE WHEN d.previous IS NULL THEN '0001-01-01' ELSE l.dt END AS valid_from,
           coalesce(d.next, '9999-12-31') AS valid_to, map_from_entries(array_agg(ROW(l."key", l."value"))) AS pairs
    FROM labels l
    JOIN label_days d ON d.dt = l.dt
    GROUP BY l.entity_type, l.entity_id, l.dt, d.previous, d.next
)
SELECT u.*,
       CAST(CASE WHEN u.workspace_id IS NULL THEN {{DEFAULT_WORKSPACE}} ELSE w.name END AS varchar) AS workspace_name,
       CAST(CASE WHEN u.workspace_id IS NULL THEN {{DEFAULT_WORKSPACE}} ELSE w_then.name END AS varchar) AS workspace_name_at_time,
       CAST(CASE WHEN u.api_key_id IS NULL THEN {{NO_API_KEY}} ELSE k.name END AS varchar) AS api_key_name,
       CAST(CASE WHEN u.api_key_id IS NULL THEN {{NO_API_KEY}} ELSE k_then.name END AS varchar) AS api_key_name_at_time,
       CAST(a.email AS varchar) AS account_email,
       CAST(map_concat(coalesce(wl.pairs, CAST(MAP() AS map(varchar, varchar))),
                       coalesce(kl.pairs, CAST(MAP() AS map(varchar, varchar)))) AS map(varchar, varchar)) AS labels
FROM usage_messages u
LEFT JOIN api_key_names k ON k.id = u.api_key_id
LEFT JOIN api_keys_in_force k_then ON k_then.id = u.api_key_id AND u.dt >= k_then.valid_from AND u.dt < k_then.valid_to
LEFT JOIN workspace_names w ON w.id = u.workspace_id
LEFT JOIN workspaces_in_force w_then ON w_then.id = u.workspace_id AND u.dt >= w_then.valid_from AND u.dt < w_then.valid_to
LEFT JOIN user_emails a ON a.id = u.account_id
LEFT JOIN labels_in_force kl ON kl.entity_type = 'api_key' AND kl.entity_id = u.api_key_id AND u.dt >= kl.valid_from AND u.dt < kl.valid_to
LEFT JOIN labels_in_force wl ON wl.entity_type = 'workspace' AND wl.entity_id = u.workspace_id AND u.dt >= wl.valid_from AND u.dt < wl.valid_to
