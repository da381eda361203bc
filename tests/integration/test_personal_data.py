"""Personal data controls (issue 21 item 4): PERSONAL_DATA=hash|drop leaves no e-mail or person's name in any object
of the lake (raw pages decoded, Parquet read), and `purge` erases one address from a lake that has it everywhere."""

from __future__ import annotations

import gzip
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from support import incremental, ingest

from usage_lake.app.jobs import personal_data
from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.lake.curated import read_table
from usage_lake.lake.personal import PersonalData, purge_email

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def lake_text(lake) -> dict[str, str]:
    """Every object of the lake as text: raw pages decompressed, Parquet objects read whole (their strings are compressed)."""
    out = {}
    for key in lake.list(""):
        data = lake.get(key)
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        if key.endswith(".parquet"):
            out[key] = json.dumps(pq.read_table(io.BytesIO(data)).to_pylist(), default=str, ensure_ascii=False)
        else:
            out[key] = data.decode("utf-8", "replace")
    return out


def people(org) -> tuple[set[str], set[str]]:
    users = org.directory.users
    emails = {u["email"] for u in users} | {i["email"] for i in org.directory.invites}
    return emails, {u["name"] for u in users}


def run_all(sim, lake, mode: str):
    settings = Settings(base_url=sim.base_url, personal_data=mode)
    record = ingest(incremental(reports=()), sim=sim, lake=lake, settings=settings)
    assert record.outcome == "succeeded", record.errors
    return record


def test_keep_stores_them_and_the_scan_finds_them(sim, org, local_lake):
    """The scan itself: with the default, the e-mails are in curated tables and raw pages alike."""
    run_all(sim, local_lake, "keep")
    emails, _ = people(org)
    found = {m for text in lake_text(local_lake).values() for m in EMAIL.findall(text)}
    assert emails <= found
    holders = {key.split("/")[0] + "/" + key.split("/")[1] for key, text in lake_text(local_lake).items() if EMAIL.search(text)}
    assert {"raw/users", "raw/invites", "raw/claude_code"} <= holders
    assert {k.split("/")[0] for k, t in lake_text(local_lake).items() if EMAIL.search(t)} >= {"users", "invites", "claude_code_usage",
                                                                                                "claude_code_models"}


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_hash_and_drop_leave_no_email_or_name_in_any_object(sim, org, local_lake, mode):
    run_all(sim, local_lake, mode)
    emails, names = people(org)
    texts = lake_text(local_lake)
    assert len(texts) > 30
    leaks = {key: EMAIL.findall(text) for key, text in texts.items() if EMAIL.search(text)}
    assert leaks == {}
    assert [key for key, text in texts.items() if any(name in text for name in names)] == []
    users = read_table(local_lake, "users")
    assert users.num_rows == len(org.directory.users)  # the people are still counted, by id and role
    stored = users.column("email").to_pylist()
    expected = personal_data(Settings(personal_data=mode), AdminKey(sim.admin_key))
    assert stored == [expected.value(u["email"]) for u in org.directory.users]
    if mode == "hash":  # one person, one hash: per-person figures still add up, in the raw pages too
        assert all(re.fullmatch(r"hmac:[0-9a-f]{32}", e) for e in stored) and len(set(stored)) == len(stored)
        claude = set(read_table(local_lake, "claude_code_usage").column("actor_email_address").to_pylist()) - {None}
        assert claude and claude <= set(stored)
        assert sum(stored[0] in text for key, text in texts.items() if key.startswith("raw/users/")) == 1
    else:
        assert stored == [None] * len(stored)


def test_the_hash_is_keyed_idempotent_and_case_blind():
    a, b = PersonalData.derived("hash", "key-a"), PersonalData.derived("hash", "key-b")
    assert a.value("Alice@Example.com") == a.value(" alice@example.com") != b.value("alice@example.com")
    assert a.value(a.value("alice@example.com")) == a.value("alice@example.com")
    assert PersonalData.derived("drop", "k").value("alice@example.com") is None
    assert PersonalData("keep").value("alice@example.com") == "alice@example.com"


@pytest.mark.parametrize("mode", ["keep", "hash"])
def test_purge_erases_one_address_everywhere(sim, org, local_lake, mode):
    run_all(sim, local_lake, mode)
    target = org.directory.users[1]["email"]
    other = org.directory.users[2]["email"]
    personal = personal_data(Settings(personal_data=mode), AdminKey(sim.admin_key))
    forms = {target} if mode == "keep" else {personal.value(target)}
    before = lake_text(local_lake)
    holders = sorted(key for key, text in before.items() if any(form in text for form in forms))
    assert any(k.startswith("raw/users/") for k in holders) and any(k.startswith("claude_code_usage/") for k in holders)

    purged = purge_email(local_lake, target.upper(), personal)

    assert sorted(purged.objects) == holders  # exactly the objects that held it, each said
    after = lake_text(local_lake)
    assert [key for key, text in after.items() if any(form in text for form in forms)] == []
    users = read_table(local_lake, "users")
    assert users.num_rows == len(org.directory.users) - 1
    assert personal.value(other) in users.column("email").to_pylist()  # nobody else was touched
    claude = read_table(local_lake, "claude_code_usage")
    assert claude.num_rows > 0


def test_the_purge_command_says_which_objects_it_rewrote(sim, org, local_lake, capsys, monkeypatch):
    from usage_lake.app.cli import main

    run_all(sim, local_lake, "keep")
    monkeypatch.delenv("ANTHROPIC_ADMIN_API_KEY", raising=False)
    target = org.directory.invites[0]["email"]
    holders = sorted(k for k, t in lake_text(local_lake).items() if target in t)
    assert main(["purge", "--lake", str(local_lake.root), "--email", target]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(line.removeprefix("rewrote ") for line in out[:-1]) == holders
    assert out[-1].startswith(f"{len(holders)} object(s) rewritten: 1 curated row(s) and ")
    assert [k for k, t in lake_text(local_lake).items() if target in t] == []
    assert main(["purge", "--lake", str(local_lake.root), "--email", "not an address"]) == 2
    assert "--email: expected one e-mail address" in capsys.readouterr().err


def test_report_html_without_people(sim, org, local_lake, tmp_path, monkeypatch):
    from usage_lake.app.cli import main

    run_all(sim, local_lake, "keep")
    emails, _ = people(org)
    argv = ["report", "html", "--lake", str(local_lake.root), "--days", "7", "--now", "2026-11-23T14:30:00Z"]
    assert main([*argv, "--out", str(tmp_path / "with.html")]) == 0
    assert any(e in (tmp_path / "with.html").read_text() for e in emails)
    assert main([*argv, "--out", str(tmp_path / "without.html"), "--no-people"]) == 0
    without = (tmp_path / "without.html").read_text()
    assert not EMAIL.search(without.replace("noreply@", "")) and "Per-person sections" in without
    monkeypatch.setenv("REPORT_NO_PEOPLE", "true")
    assert main([*argv, "--out", str(tmp_path / "setting.html")]) == 0
    assert not any(e in (tmp_path / "setting.html").read_text() for e in emails)


def test_the_settings_and_where_the_hash_key_comes_from():
    from usage_lake.errors import SettingsError

    assert Settings.from_env({}).personal_data == "keep"
    with pytest.raises(SettingsError, match="PERSONAL_DATA must be one of keep, hash, drop"):
        Settings.from_env({"PERSONAL_DATA": "encrypt"})
    own = Settings.from_env({"PERSONAL_DATA": "hash", "PERSONAL_DATA_KEY": "a key of its own", "REPORT_NO_PEOPLE": "true"})
    assert own.report_no_people and "a key of its own" not in repr(own)
    # its own key: hashes survive a rotated Admin key; without it they follow the Admin key
    assert personal_data(own, AdminKey("sk-ant-admin01-old")).value("a@b.co") == personal_data(own, AdminKey("sk-ant-admin01-new")).value("a@b.co")
    plain = Settings(personal_data="hash")
    assert personal_data(plain, AdminKey("sk-ant-admin01-old")).value("a@b.co") != personal_data(plain, AdminKey("sk-ant-admin01-new")).value("a@b.co")


def test_fields_are_found_by_name_so_a_new_endpoint_is_covered():
    """The Analytics API's actors (`{type: user_actor, user_id, email_address, name}`) at any depth, in a page and a table."""
    import pyarrow as pa

    hashing = PersonalData.derived("hash", "k")
    page = json.dumps({"data": [{"day": "2026-12-01", "actor": {"type": "user_actor", "user_id": "u1", "email_address": "Ann@Example.com",
                                                               "name": "Ann Example"}, "workspace": {"type": "workspace", "name": "Prod"}}],
                       "has_more": False}).encode()
    stored = json.loads(hashing.body("analytics_usage", page))
    actor = stored["data"][0]["actor"]
    assert actor == {"type": "user_actor", "user_id": "u1", "email_address": hashing.value("ann@example.com"),
                     "name": hashing.value("Ann Example", "name")}
    assert stored["data"][0]["workspace"]["name"] == "Prod"  # a workspace's name is not a person's
    usage_page = b'{"data":[{"results":[{"api_key_id":"email@example.com"}]}],"has_more":false}'
    assert hashing.body("usage", usage_page) is usage_page  # the usage and cost reports are never parsed for people
    table = pa.table({"actor_email_address": ["a@b.co", None], "actor_name": ["A B", "C"], "workspace_name": ["W", "W"]})
    dropped = PersonalData.derived("drop", "k").table("analytics_actors", table)
    assert dropped.to_pydict() == {"actor_email_address": [None, None], "actor_name": [None, None], "workspace_name": ["W", "W"]}


def test_the_function_hashes_with_a_key_of_its_own_from_secrets_manager(aws, sim, org, monkeypatch):
    import boto3
    from support import LAKE_BUCKET, FakeContext, deploy_env

    from usage_lake.lake import S3Lake

    boto3.client("s3").create_bucket(Bucket=LAKE_BUCKET)
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="admin", SecretString=sim.admin_key)
    sm.create_secret(Name="personal-data-key", SecretString="a hash key of its own\n")
    deploy_env(monkeypatch, base_url=sim.base_url, secret_id="admin", bucket=LAKE_BUCKET, PERSONAL_DATA="hash",
               PERSONAL_DATA_KEY_SECRET_ID="personal-data-key")
    from handlers import ingest as handler_module

    summary = handler_module.handler({"mode": "incremental", "now": "2026-11-23T14:30:00Z", "reports": ["users", "invites"]}, FakeContext())
    assert summary["outcome"] == "succeeded"
    own = PersonalData.derived("hash", "a hash key of its own")
    assert read_table(S3Lake(LAKE_BUCKET), "users").column("email").to_pylist() == [own.value(u["email"]) for u in org.directory.users]
    monkeypatch.setenv("PERSONAL_DATA_KEY_SECRET_ID", "no-such-secret")
    from usage_lake.errors import SecretError

    with pytest.raises(SecretError, match="no-such-secret"):
        handler_module.handler({"mode": "incremental", "now": "2026-11-23T15:30:00Z", "reports": ["users"]}, FakeContext())
