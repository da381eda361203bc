"""The other two ways the Admin API pages, pinned with respx: the organization lists (`after_id=<last_id>`), the
single organization object, and the Claude Code report (`page=<next_page>` over records, one UTC day per query)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from usage_lake.config.secrets import AdminKey
from usage_lake.config.settings import Settings
from usage_lake.errors import PaginationError, ResponseShapeError
from usage_lake.sources import registry
from usage_lake.sources.claude_code.report import CLAUDE_CODE_PAGES
from usage_lake.sources.claude_code.report import PATH as CLAUDE_CODE
from usage_lake.sources.http import LIST_PAGES, OBJECT, AdminClient

BASE_URL = "https://api.example.test"
KEYS = "/v1/organizations/api_keys"


def key(n: int) -> dict:
    return {"id": f"apikey_0{n}", "type": "api_key", "name": f"key {n}", "status": "active"}


def listing(ids: range, *, has_more: bool, last_id: str | None = "auto") -> dict:
    data = [key(n) for n in ids]
    return {"data": data, "first_id": data[0]["id"] if data else None,
            "last_id": (data[-1]["id"] if data else None) if last_id == "auto" else last_id, "has_more": has_more}


def record(day: str, email: str = "dev@example.com") -> dict:
    return {"date": day, "actor": {"type": "user_actor", "email_address": email},
            "core_metrics": {"num_sessions": 1, "lines_of_code": {"added": 2, "removed": 1},
                             "commits_by_claude_code": 0, "pull_requests_by_claude_code": 0}}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[AdminClient]:
    with AdminClient(AdminKey("sk-ant-admin01-x"), BASE_URL, sleep=lambda s: None, rng=random.Random(0)) as c:
        yield c


def test_a_list_is_followed_by_after_id_until_has_more_is_false(api, client) -> None:
    route = api.get(KEYS).mock(side_effect=[
        httpx.Response(200, json=listing(range(1, 4), has_more=True)),
        httpx.Response(200, json=listing(range(4, 6), has_more=False)),
    ])
    endpoint = registry.endpoint("api_keys", Settings())
    (path, params), = endpoint.requests({})
    pages = list(client.iter_pages(path, params, endpoint.paging))

    assert [len(p.records) for p in pages] == [3, 2] and [p.row_count for p in pages] == [3, 2]
    assert [p.buckets for p in pages] == [[], []]
    first, second = (dict(call.request.url.params) for call in route.calls)
    assert first == {"limit": "1000"}  # every status: no status filter
    assert second == {"limit": "1000", "after_id": "apikey_03"}
    assert [json.loads(bytes(r))["id"] for p in pages for r in p.records] == [f"apikey_0{n}" for n in range(1, 6)]


def test_workspaces_are_asked_for_with_the_archived_ones(api, client) -> None:
    route = api.get("/v1/organizations/workspaces").mock(return_value=httpx.Response(200, json={"data": [], "has_more": False}))
    endpoint = registry.endpoint("workspaces", Settings())
    (path, params), = endpoint.requests({})
    assert [p.records for p in client.iter_pages(path, params, endpoint.paging)] == [[]]
    assert dict(route.calls.last.request.url.params) == {"include_archived": "true", "limit": "1000"}


def test_a_list_that_says_has_more_without_a_last_id_is_refused(api, client) -> None:
    api.get(KEYS).mock(return_value=httpx.Response(200, json=listing(range(1, 3), has_more=True, last_id=None)))
    with pytest.raises(PaginationError, match="has_more but gives no last_id"):
        list(client.iter_pages(KEYS, [("limit", "2")], LIST_PAGES))


def test_a_list_that_repeats_its_cursor_is_refused(api, client) -> None:
    api.get(KEYS).mock(return_value=httpx.Response(200, json=listing(range(1, 3), has_more=True)))
    with pytest.raises(PaginationError, match="repeats the cursor 'apikey_02'"):
        list(client.iter_pages(KEYS, [("limit", "2")], LIST_PAGES))


def test_a_list_page_of_the_wrong_shape_names_the_field(api, client) -> None:
    api.get(KEYS).mock(return_value=httpx.Response(200, json={"data": {"id": "x"}, "has_more": False}))
    with pytest.raises(ResponseShapeError, match=r"not a documented page: Expected `array`, got `object` - at `\$.data`"):
        list(client.iter_pages(KEYS, [], LIST_PAGES))


def test_the_organization_is_one_object_one_request(api, client) -> None:
    me = {"id": "12345678-1234-5678-1234-567812345678", "type": "organization", "name": "Organization Name"}
    route = api.get("/v1/organizations/me").mock(return_value=httpx.Response(200, json=me))
    (page,) = client.iter_pages("/v1/organizations/me", [], OBJECT)
    assert route.call_count == 1 and [json.loads(bytes(r)) for r in page.records] == [me]
    table = registry.endpoint("organization", Settings()).to_table(page.records, run_id="r", snapshot_at=datetime(2026, 11, 23, tzinfo=UTC), where="w")
    assert table.select(["id", "type", "name"]).to_pylist() == [me]
    api.get("/v1/organizations/me").mock(return_value=httpx.Response(200, json=[me]))
    with pytest.raises(ResponseShapeError, match="Expected `object`, got `array`"):
        list(client.iter_pages("/v1/organizations/me", [], OBJECT))


def test_a_claude_code_day_is_one_query_paged_by_next_page(api, client) -> None:
    route = api.get(CLAUDE_CODE).mock(side_effect=[
        httpx.Response(200, json={"data": [record("2026-11-20T00:00:00Z"), record("2026-11-20", "b@example.com")],
                                  "has_more": True, "next_page": "page_abc"}),
        httpx.Response(200, json={"data": [record("2026-11-20")], "has_more": False, "next_page": None}),
    ])
    endpoint = registry.endpoint("claude_code", Settings())
    start = datetime(2026, 11, 20, tzinfo=UTC)
    pages = list(client.iter_pages(endpoint.path, endpoint.params(start, start.replace(day=21)), endpoint.paging))

    assert [dict(call.request.url.params) for call in route.calls] == [
        {"starting_at": "2026-11-20", "limit": "1000"}, {"starting_at": "2026-11-20", "limit": "1000", "page": "page_abc"}]
    # both spellings of `date` land in the same day's bucket
    assert [[(b.starting_at, len(b.results)) for b in p.buckets] for p in pages] == [[(start, 2)], [(start, 1)]]


def test_an_empty_claude_code_day_is_one_empty_page(api, client) -> None:
    api.get(CLAUDE_CODE).mock(return_value=httpx.Response(200, content=b'{"data":[],"has_more":false,"next_page":null}'))
    (page,) = client.iter_pages(CLAUDE_CODE, [("starting_at", "2026-11-20")], CLAUDE_CODE_PAGES)
    assert page.buckets == [] and page.row_count == 0


@pytest.mark.parametrize(("date", "problem"), [
    ("2026-11-20T05:00:00Z", "is not midnight UTC"),
    ("20/11/2026", "is not an RFC 3339 timestamp"),
    (20261120, "Expected `str`, got `int`"),
])
def test_a_claude_code_record_with_a_bad_date_is_refused(api, client, date, problem) -> None:
    api.get(CLAUDE_CODE).mock(return_value=httpx.Response(200, json={"data": [record("2026-11-20"), record(date)], "has_more": False}))
    with pytest.raises(ResponseShapeError, match=f"record 1: .*{problem}"):
        list(client.iter_pages(CLAUDE_CODE, [("starting_at", "2026-11-20")], CLAUDE_CODE_PAGES))
