"""The new sources' transforms, without HTTP: Claude Code records, the organization lists, labels, names."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec
import pyarrow as pa
import pytest

from usage_lake.config.settings import Settings
from usage_lake.errors import ResponseShapeError, SettingsError
from usage_lake.lake import LocalLake, Names
from usage_lake.lake.curated import replace_day
from usage_lake.lake.schema import API_KEYS, WORKSPACES
from usage_lake.sources import registry
from usage_lake.sources.claude_code.report import decode_claude_code_page
from usage_lake.sources.labels import LabelMap, labels_table, load_labels, parse_label_file

WHEN = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def cc_record(**changes: object) -> dict:
    record = {
        "date": "2026-11-20", "actor": {"type": "user_actor", "email_address": "dev@example.com"}, "organization_id": "org",
        "customer_type": "api", "terminal_type": "vscode", "is_remote": False,
        "core_metrics": {"num_sessions": 5, "lines_of_code": {"added": 1543, "removed": 892},
                         "commits_by_claude_code": 12, "pull_requests_by_claude_code": 2},
        "tool_actions": {"edit_tool": {"accepted": 45, "rejected": 5}, "write_tool": {"accepted": 8, "rejected": 1}},
        "model_breakdown": [{"model": "claude-opus-4-6", "tokens": {"input": 100000, "output": 35000, "cache_read": 10000, "cache_creation": 5000},
                             "estimated_cost": {"currency": "USD", "amount": 113}}],
    }
    return record | changes


def claude_code(*records: dict, raw: bytes | None = None) -> dict[str, pa.Table]:
    body = raw or json.dumps({"data": list(records), "has_more": False, "next_page": None}).encode()
    endpoint = registry.endpoint("claude_code", Settings())
    table = endpoint.to_table(decode_claude_code_page(body).buckets, run_id="r", ingested_at=WHEN, where="page 1")
    return endpoint.outputs(table)


# -- Claude Code -----------------------------------------------------------------------------------------------

def test_a_record_becomes_one_usage_row_and_one_row_per_model() -> None:
    second = {"model": "claude-haiku-4-5", "tokens": {"input": 1, "output": 2, "cache_read": 3, "cache_creation": 4},
              "estimated_cost": {"currency": "USD", "amount": 0.5}}
    record = cc_record(model_breakdown=[*cc_record()["model_breakdown"], second],
                       tool_actions={"edit_tool": {"accepted": 45, "rejected": 5}, "web_fetch_tool": {"accepted": 3, "rejected": 1}})
    tables = claude_code(record)
    (usage,) = tables["claude_code_usage"].to_pylist()
    assert (usage["date"], usage["actor_type"], usage["actor_email_address"], usage["num_sessions"], usage["lines_added"],
            usage["lines_removed"], usage["commits"], usage["pull_requests"]) == (date(2026, 11, 20), "user_actor", "dev@example.com", 5, 1543, 892, 12, 2)
    assert (usage["edit_tool_accepted"], usage["edit_tool_rejected"], usage["write_tool_accepted"]) == (45, 5, None)  # absent: null, not 0
    assert usage["other_tool_actions"] == [("web_fetch_tool", {"accepted": 3, "rejected": 1})]  # a tool the docs do not list
    models = tables["claude_code_models"].to_pylist()
    assert [(m["model"], m["input_tokens"], m["cache_creation_tokens"], m["estimated_cost_cents"], m["estimated_cost_usd"]) for m in models] == [
        ("claude-opus-4-6", 100000, 5000, Decimal(113), Decimal("1.13")), ("claude-haiku-4-5", 1, 4, Decimal("0.5"), Decimal("0.005"))]
    assert all(m["actor_email_address"] == "dev@example.com" and m["is_remote"] is False for m in models)


def test_cents_sent_as_a_json_number_stay_exact() -> None:
    amounts = ["0.1", "0.2", "1234.567890123456", "99999999999999.999999999999", "7"]
    breakdown = [{"model": f"m{i}", "tokens": {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0},
                  "estimated_cost": {"currency": "USD", "amount": "AMOUNT" + str(i)}} for i in range(len(amounts))]
    text = json.dumps({"data": [cc_record(model_breakdown=breakdown)], "has_more": False})
    for i, amount in enumerate(amounts):
        text = text.replace(f'"AMOUNT{i}"', amount)  # the wire carries a bare number, as the API sends it
    models = claude_code(raw=text.encode())["claude_code_models"]
    assert models.column("estimated_cost_cents").to_pylist() == [Decimal(a) for a in amounts]
    assert models.column("estimated_cost_usd").to_pylist() == [Decimal(a) / 100 for a in amounts]
    assert sum(models.column("estimated_cost_cents").to_pylist()[:2]) == Decimal("0.3")  # not 0.30000000000000004


@pytest.mark.parametrize(("amount", "problem"), [
    ("0.1234567890123", "more than 12 decimal places; refusing to round money"),
    ('"NaN"', "is not a number of cents"),
    ("1e40", "does not fit decimal"),
])
def test_cents_that_cannot_be_kept_exactly_are_refused(amount: str, problem: str) -> None:
    text = json.dumps({"data": [cc_record()], "has_more": False}).replace('"amount": 113', f'"amount": {amount}')
    with pytest.raises(ResponseShapeError, match=rf"page 1: record 0 \(2026-11-20\): model_breakdown\[0\]: `estimated_cost.amount` .*{problem}"):
        claude_code(raw=text.encode())


@pytest.mark.parametrize(("change", "field"), [
    ({"core_metrics": {"num_sessions": "5"}}, r"Expected `int`, got `str` - at `\$.core_metrics.num_sessions`"),
    ({"core_metrics": {"num_sessions": 5, "lines_of_code": {"added": 1}}}, r"missing required field `removed` - at `\$.core_metrics.lines_of_code`"),
    ({"actor": {"type": "user_actor"}}, r"a user_actor without `actor.email_address`"),
    ({"actor": {"type": "api_actor", "email_address": "x@y"}}, r"an api_actor without `actor.api_key_name`"),
    ({"is_remote": "no"}, r"Expected `bool | null`, got `str` - at `\$.is_remote`"),
])
def test_a_bad_record_is_refused_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(ResponseShapeError, match=rf"page 1: record 0 \(2026-11-20\): .*{field}"):
        claude_code(cc_record(**change))


def test_records_without_models_or_tools_and_an_empty_day() -> None:
    bare = cc_record(actor={"type": "api_actor", "api_key_name": "ci"}, tool_actions=None, model_breakdown=None)
    bare = {k: v for k, v in bare.items() if v is not None}
    tables = claude_code(bare)
    assert tables["claude_code_usage"].column("actor_api_key_name").to_pylist() == ["ci"]
    assert tables["claude_code_models"].num_rows == 0
    empty = claude_code()
    assert (empty["claude_code_usage"].num_rows, empty["claude_code_models"].num_rows) == (0, 0)


# -- the organization lists --------------------------------------------------------------------------------------

def snapshot(name: str, *records: dict) -> pa.Table:
    return registry.endpoint(name, Settings()).to_table([msgspec.Raw(json.dumps(r).encode()) for r in records], run_id="r",
                                                       snapshot_at=WHEN, where=f"{name} snapshot")


def test_api_keys_read_either_principal_and_either_workspace_field() -> None:
    table = snapshot("api_keys",
                     {"id": "apikey_01a", "name": "a", "workspace_id": "wrkspc_01w", "principal": {"id": "user_01u", "type": "user"},
                      "created_by": {"id": "user_01u", "type": "user"}, "created_at": "2024-10-30T23:58:27.427722Z"},
                     {"id": "apikey_01b", "name": "b", "workspace_id": None, "scope": {"type": "workspace", "workspace_id": "wrkspc_01v"},
                      "principal": {"type": "service_account_actor", "service_account_id": "svcacct_01s"}, "created_by": None},
                     {"id": "apikey_01c", "name": "c", "scope": {"type": "organization"}, "principal": {"type": "user_actor", "user_id": "user_01x"}})
    assert table.schema == API_KEYS
    rows = {r["id"]: r for r in table.to_pylist()}
    assert (rows["apikey_01a"]["workspace_id"], rows["apikey_01a"]["principal_id"], rows["apikey_01a"]["principal_type"]) == ("wrkspc_01w", "user_01u", "user")
    assert rows["apikey_01a"]["created_at"] == datetime(2024, 10, 30, 23, 58, 27, 427000, tzinfo=UTC)
    assert (rows["apikey_01b"]["workspace_id"], rows["apikey_01b"]["scope_workspace_id"]) == ("wrkspc_01v", "wrkspc_01v")
    assert (rows["apikey_01b"]["principal_id"], rows["apikey_01b"]["principal_type"], rows["apikey_01b"]["created_by_id"]) == \
        ("svcacct_01s", "service_account", None)
    assert (rows["apikey_01c"]["workspace_id"], rows["apikey_01c"]["scope_type"], rows["apikey_01c"]["principal_type"]) == \
        (None, "organization", "user")


@pytest.mark.parametrize(("name", "records", "problem"), [
    ("api_keys", [{"name": "no id"}], r"record 0: Object missing required field `id`"),
    ("api_keys", [{"id": "apikey_01a", "created_at": "yesterday"}], r"record 0: `created_at` 'yesterday' is not an RFC 3339 timestamp"),
    ("workspaces", [{"id": "wrkspc_01a", "tags": {"env": 1}}], r"record 0: Expected `str`, got `int` - at `\$.tags\[...\]`"),
    ("api_keys", [{"id": "apikey_01a"}, {"id": "apikey_01a"}], r"\{'id': 'apikey_01a'\} appears 2 times in one snapshot"),
    ("workspace_members", [{"user_id": "user_01a", "workspace_id": "wrkspc_01w"}, {"user_id": "user_01a", "workspace_id": "wrkspc_01w"}],
     r"appears 2 times"),
])
def test_a_bad_list_record_is_refused_naming_the_field(name: str, records: list[dict], problem: str) -> None:
    with pytest.raises(ResponseShapeError, match=rf"{name} snapshot: .*{problem}"):
        snapshot(name, *records)


def test_workspace_members_are_asked_for_each_active_workspace_only() -> None:
    workspaces = snapshot("workspaces", {"id": "wrkspc_01b", "name": "B"}, {"id": "wrkspc_01a", "name": "A"},
                          {"id": "wrkspc_01z", "name": "Z", "archived_at": "2026-01-01T00:00:00Z", "tags": {"env": "old"}})
    assert workspaces.schema == WORKSPACES and workspaces.column("tags").to_pylist()[2] == [("env", "old")]
    members = registry.endpoint("workspace_members", Settings())
    assert members.needs == ("workspaces",)
    assert members.requests({"workspaces": workspaces}) == [
        ("/v1/organizations/workspaces/wrkspc_01a/members", [("limit", "1000")]),
        ("/v1/organizations/workspaces/wrkspc_01b/members", [("limit", "1000")])]
    unsafe = snapshot("workspaces", {"id": "wrkspc_01a/../../api_keys", "name": "evil"})
    with pytest.raises(ResponseShapeError, match="cannot go in a URL path"):
        members.requests({"workspaces": unsafe})


# -- labels ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("document", "problem"), [
    ("{not json", "is not valid JSON"),
    ("[]", "must hold a JSON object"),
    ({"keys": {}}, r"unknown section\(s\) \['keys'\]"),
    ({"api_keys": {"prod-backend": {"project": "x"}}}, r"api_keys must be keyed by id \(apikey_\.\.\.\), got 'prod-backend'"),
    ({"workspaces": {"apikey_01a": {"project": "x"}}}, r"workspaces must be keyed by id \(wrkspc_\.\.\.\)"),
    ({"api_keys": {"apikey_01a": "search"}}, r"api_keys.apikey_01a must be an object of labels"),
    ({"api_keys": {"apikey_01a": {"cost": 12}}}, r"api_keys.apikey_01a.cost must be a string"),
    ({"api_keys": {"apikey_01a": {"": "x"}}}, r"label names must be non-empty strings"),
])
def test_a_label_file_that_is_wrong_names_the_entry(document: object, problem: str) -> None:
    data = document.encode() if isinstance(document, str) else json.dumps(document).encode()
    with pytest.raises(SettingsError, match=rf"^LABELS file 'x.json'.*{problem}"):
        parse_label_file(data, "LABELS file 'x.json'")


def test_labels_come_from_the_file_then_the_agent_map_then_the_tags(tmp_path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"api_keys": {"apikey_01a": {"agent": "from-file", "project": "search"}},
                                "workspaces": {"wrkspc_01w": {"env": "production"}}}))
    settings = Settings.from_env({"LABELS": str(path), "ANTHROPIC_AGENT_MAP_JSON": '{"apikey_01a": "opus-main", "apikey_01b": "haiku-batch"}'})
    label_map = load_labels(settings)
    workspaces = snapshot("workspaces", {"id": "wrkspc_01w", "tags": {"env": "prod", "team": "core"}})
    table = labels_table(label_map, workspaces, run_id="r", snapshot_at=WHEN)
    assert [(r["entity_type"], r["entity_id"], r["key"], r["value"], r["source"]) for r in table.to_pylist()] == [
        ("api_key", "apikey_01a", "agent", "from-file", "file"),
        ("api_key", "apikey_01a", "project", "search", "file"),
        ("api_key", "apikey_01b", "agent", "haiku-batch", "agent_map"),
        ("workspace", "wrkspc_01w", "env", "production", "file"),
        ("workspace", "wrkspc_01w", "team", "core", "workspace_tags"),
    ]
    assert labels_table(LabelMap(), None, run_id="r", snapshot_at=WHEN).num_rows == 0


def test_a_label_file_that_cannot_be_read_names_labels(tmp_path) -> None:
    with pytest.raises(SettingsError, match=r"LABELS file '.*missing.json' could not be read"):
        load_labels(Settings(labels=str(tmp_path / "missing.json")))


@pytest.mark.parametrize(("value", "problem"), [
    ("{apikey_01a: x}", "is not valid JSON"),
    ('["apikey_01a"]', "must be a JSON object"),
    ('{"opus-main": "apikey_01a"}', "'opus-main' is not an API key id"),
    ('{"apikey_01a": ""}', "must be a non-empty string"),
])
def test_the_agent_map_is_checked_at_start(value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=rf"^ANTHROPIC_AGENT_MAP_JSON.*{problem}"):
        Settings.from_env({"ANTHROPIC_AGENT_MAP_JSON": value})


# -- names -----------------------------------------------------------------------------------------------------

def test_names_show_the_id_only_where_two_share_a_name(tmp_path) -> None:
    lake = LocalLake(tmp_path)
    assert Names.load(lake).api_key("apikey_01a") == "apikey_01a"  # no snapshot yet: the id
    keys = snapshot("api_keys", {"id": "apikey_01a", "name": "batch"}, {"id": "apikey_01b", "name": "batch"}, {"id": "apikey_01c", "name": "web"},
                    {"id": "apikey_01d"})
    replace_day(lake, "api_keys", date(2026, 11, 22), snapshot("api_keys", {"id": "apikey_01a", "name": "old"}))
    replace_day(lake, "api_keys", date(2026, 11, 23), keys)
    names = Names.load(lake)
    assert [names.api_key(k) for k in ("apikey_01a", "apikey_01b", "apikey_01c", "apikey_01d", None)] == [
        "batch (apikey_01a)", "batch (apikey_01b)", "web", "apikey_01d", "Console / Workbench (no API key)"]
    assert names.workspace(None) == "Default Workspace" and names.workspace("wrkspc_01x") == "wrkspc_01x"
