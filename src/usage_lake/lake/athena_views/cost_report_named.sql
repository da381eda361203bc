-- description: cost_report with names and labels on every row: workspace_name from the latest organization snapshot (archived workspaces included; a null workspace_id is the Default Workspace), workspace_name_at_time from the snapshot of the row's own day (null where that day has none), and the workspace's labels (latest). Filter on dt as on cost_report.
WITH workspace_names AS (
    SELECT id, max_by(name, dt) AS name
    FROM workspaces
    GROUP BY id
), latest_labels AS (
    SELECT entity_id, map_from_entries(array_agg(ROW("key", "value"))) AS pairs
    FROM labels
    WHERE dt = (SELECT max(dt) FROM labels) AND entity_type = 'workspace'
    GROUP BY entity_id
)
SELECT c.*,
       CAST(CASE WHEN c.workspace_id IS NULL THEN 'Default Workspace' ELSE w.name END AS varchar) AS workspace_name,
       CAST(CASE WHEN c.workspace_id IS NULL THEN 'Default Workspace' ELSE w_then.name END AS varchar) AS workspace_name_at_time,
       CAST(coalesce(wl.pairs, CAST(MAP() AS map(varchar, varchar))) AS map(varchar, varchar)) AS labels
FROM cost_report c
LEFT JOIN workspace_names w ON w.id = c.workspace_id
LEFT JOIN workspaces w_then ON w_then.id = c.workspace_id AND w_then.dt = c.dt
LEFT JOIN latest_labels wl ON wl.entity_id = c.workspace_id
