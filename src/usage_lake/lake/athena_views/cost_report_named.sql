-- description: cost_report with names and labels on every row: workspace_name from the latest organization snapshot (archived workspaces included; a null workspace_id is the default workspace), workspace_name_at_time and labels from the snapshot in force on the row's own day (the latest on or before it, else the earliest: the rule of docs/snapshots.md). Filter on dt as on cost_report.
WITH workspace_names AS (
    SELECT id, max_by(name, dt) AS name
    FROM workspaces
    GROUP BY id
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
    SELECT l.entity_id, CASE WHEN d.previous IS NULL THEN '0001-01-01' ELSE l.dt END AS valid_from,
           coalesce(d.next, '9999-12-31') AS valid_to, map_from_entries(array_agg(ROW(l."key", l."value"))) AS pairs
    FROM labels l
    JOIN label_days d ON d.dt = l.dt
    WHERE l.entity_type = 'workspace'
    GROUP BY l.entity_id, l.dt, d.previous, d.next
)
SELECT c.*,
       CAST(CASE WHEN c.workspace_id IS NULL THEN {{DEFAULT_WORKSPACE}} ELSE w.name END AS varchar) AS workspace_name,
       CAST(CASE WHEN c.workspace_id IS NULL THEN {{DEFAULT_WORKSPACE}} ELSE w_then.name END AS varchar) AS workspace_name_at_time,
       CAST(coalesce(wl.pairs, CAST(MAP() AS map(varchar, varchar))) AS map(varchar, varchar)) AS labels
FROM cost_report c
LEFT JOIN workspace_names w ON w.id = c.workspace_id
LEFT JOIN workspaces_in_force w_then ON w_then.id = c.workspace_id AND c.dt >= w_then.valid_from AND c.dt < w_then.valid_to
LEFT JOIN labels_in_force wl ON wl.entity_id = c.workspace_id AND c.dt >= wl.valid_from AND c.dt < wl.valid_to
