"""Labels: free-form key/value pairs on API keys and workspaces (project, team, cost center, agent), from the
LABELS file, ANTHROPIC_AGENT_MAP_JSON and the workspaces' own tags; written as the `labels` snapshot table."""

from usage_lake.sources.labels.labels import (
    AGENT_MAP,
    FILE,
    WORKSPACE_TAGS,
    Label,
    LabelMap,
    current_labels,
    labels_table,
    load_labels,
    parse_label_file,
)

__all__ = ["AGENT_MAP", "FILE", "WORKSPACE_TAGS", "Label", "LabelMap", "current_labels", "labels_table", "load_labels", "parse_label_file"]
