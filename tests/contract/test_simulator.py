"""The fake Admin API, over real HTTP: exact numbers, documented errors, and every fault kind."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from usage_lake.money.pricing import PriceTable
from usage_lake.simulator import Fault, FaultPlan, SimulatedOrg, Simulator
from usage_lake.simulator.org import USAGE_FIELDS

USAGE = "/v1/organizations/usage_report/messages"
COST = "/v1/organizations/cost_report"
NOW = datetime(2026, 10, 4, 12, 0, tzinfo=UTC)
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY3 = DAY0 + timedelta(days=3)
ALL_DIMS = ["api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo"]


def rfc(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def org() -> SimulatedOrg:
    return SimulatedOrg.small(seed=7)


@pytest.fixture(scope="module")
def sim(org: SimulatedOrg) -> Iterator[Simulator]:
    with Simulator(org, now=NOW) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    sim.faults.clear()
    headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01", "user-agent": "usage-lake-tests/1"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as c:
        yield c
    sim.faults.clear()


def row_counts(row: dict[str, Any]) -> list[int]:
    return [
        row["uncached_input_tokens"],
        row["cache_creation"]["ephemeral_5m_input_tokens"],
        row["cache_creation"]["ephemeral_1h_input_tokens"],
        row["cache_read_input_tokens"],
        row["output_tokens"],
        row["server_tool_use"]["web_search_requests"],
    ]


def fetch_all(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a report (re-sending the query with ``page``)."""
    pages = []
    page = None
    while True:
        response = client.get(path, params={**params, **({"page": page} if page else {})})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        page = pages[-1]["next_page"]
        if not pages[-1]["has_more"]:
            assert page is None
            return pages


def usage_by(pages: list[dict[str, Any]], key: Any) -> dict[Any, list[int]]:
    acc: dict[Any, list[int]] = {}
    for page in pages:
        for bucket in page["data"]:
            for row in bucket["results"]:
                a = acc.setdefault(key(bucket, row), [0] * 6)
                for i, v in enumerate(row_counts(row)):
                    a[i] += v
    return acc


# -- the synthetic organization -------------------------------------------------------------------


def test_small_org_covers_the_documented_dimensions(org: SimulatedOrg) -> None:
    assert len(org.workspace_ids) == 3 and None in org.workspace_ids
    assert None in org.api_key_ids and len(org.api_key_ids) == 7
    assert all(re.fullmatch(r"wrkspc_01[0-9A-Za-z]{22}", w) for w in org.workspace_ids if w)
    assert all(re.fullmatch(r"apikey_01[0-9A-Za-z]{22}", k) for k in org.api_key_ids if k)
    assert {s.workspace_id for s in org.streams if s.api_key_id is None} == {None}
    combos = {(s.model, s.context_window, s.inference_geo, s.service_tier) for s in org.streams}
    assert {"standard", "batch", "priority"} == {c[3] for c in combos}
    assert {c[1] for c in combos if c[0] == "claude-sonnet-4-5-20250929"} == {"0-200k", "200k-1M"}
    assert {c[2] for c in combos if c[0] == "claude-opus-4-6"} == {"global", "us"}
    assert {c[2] for c in combos if c[0] == "claude-haiku-4-5-20251001"} == {"not_available"}
    totals = org.usage_totals(DAY0, DAY3)
    assert all(totals[f] > 0 for f in USAGE_FIELDS)
    hourly = org.usage_totals_by(DAY0, DAY3, ("day",))
    assert set(hourly) == {("2026-10-01",), ("2026-10-02",), ("2026-10-03",)}


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a, b, c = SimulatedOrg.small(seed=7), SimulatedOrg.small(seed=7), SimulatedOrg.small(seed=8)
    assert a.usage_totals(DAY0, DAY3) == b.usage_totals(DAY0, DAY3) != c.usage_totals(DAY0, DAY3)
    assert a.api_key_ids == b.api_key_ids != c.api_key_ids


def test_large_org_every_stream_active_every_hour() -> None:
    org = SimulatedOrg.large(api_keys=20, models=4, workspaces=3)
    assert len(org.streams) == 80
    assert len({s.api_key_id for s in org.streams}) == 20
    assert {s.workspace_id for s in org.streams} == set(org.workspace_ids)
    with Simulator(org, now=NOW) as sim:
        headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
        params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY0 + timedelta(hours=2)), "bucket_width": "1h",
                  "group_by[]": ALL_DIMS}
        body = httpx.get(sim.base_url + USAGE, headers=headers, params=params).json()
    assert [len(b["results"]) for b in body["data"]] == [80, 80]
    assert usage_by([body], lambda b, r: ())[()] == [
        org.usage_totals(DAY0, DAY0 + timedelta(hours=2))[f] for f in USAGE_FIELDS
    ]


# -- usage report ---------------------------------------------------------------------------------


def test_hourly_pages_sum_exactly_to_org_totals(client: httpx.Client, sim: Simulator, org: SimulatedOrg) -> None:
    sim.served.reset()
    params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3), "bucket_width": "1h", "limit": 24,
              "group_by[]": ALL_DIMS}
    pages = fetch_all(client, USAGE, params)
    assert len(pages) == 3 and [len(p["data"]) for p in pages] == [24, 24, 24]
    assert pages[0]["data"][0]["starting_at"] == "2026-10-01T00:00:00Z"
    assert pages[2]["data"][-1]["ending_at"] == "2026-10-04T00:00:00Z"
    totals = usage_by(pages, lambda b, r: ())[()]
    assert dict(zip(USAGE_FIELDS, totals)) == org.usage_totals(DAY0, DAY3)
    assert sim.served.usage == org.usage_totals(DAY0, DAY3)
    assert sim.served.usage_pages == 3
    assert any(not b["results"] for p in pages for b in p["data"]), "some hours must be empty"
    rows = [r for p in pages for b in p["data"] for r in b["results"]]
    assert any(r["workspace_id"] is None for r in rows) and any(r["api_key_id"] is None for r in rows)
    assert all(r["account_id"] is None and r["service_account_id"] is None for r in rows)


def test_daily_and_minute_buckets_equal_the_sum_of_hours(client: httpx.Client, org: SimulatedOrg) -> None:
    base = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3), "group_by[]": ["model"]}
    daily = usage_by(fetch_all(client, USAGE, {**base, "bucket_width": "1d"}),
                     lambda b, r: (b["starting_at"][:10], r["model"]))
    hourly = usage_by(fetch_all(client, USAGE, {**base, "bucket_width": "1h", "limit": 168}),
                      lambda b, r: (b["starting_at"][:10], r["model"]))
    assert daily == hourly
    expected = org.usage_totals_by(DAY0, DAY3, ("day", "model"))
    assert daily == {k: [v[f] for f in USAGE_FIELDS] for k, v in expected.items()}
    minute = fetch_all(client, USAGE, {"starting_at": rfc(DAY0), "ending_at": rfc(DAY0 + timedelta(days=1)),
                                       "bucket_width": "1m", "limit": 1440})
    assert len(minute) == 1 and len(minute[0]["data"]) == 1440
    assert usage_by(minute, lambda b, r: ())[()] == [org.usage_totals(DAY0, DAY0 + timedelta(days=1))[f]
                                                      for f in USAGE_FIELDS]


def test_no_group_by_is_one_summed_row_with_null_dims(client: httpx.Client, org: SimulatedOrg) -> None:
    body = client.get(USAGE, params={"starting_at": rfc(DAY0), "ending_at": rfc(DAY3)}).json()
    assert [b["starting_at"] for b in body["data"]] == ["2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z",
                                                       "2026-10-03T00:00:00Z"]
    for bucket in body["data"]:
        (row,) = bucket["results"]
        assert all(row[d] is None for d in [*ALL_DIMS, "account_id", "service_account_id"])
    assert usage_by([body], lambda b, r: ())[()] == [org.usage_totals(DAY0, DAY3)[f] for f in USAGE_FIELDS]


def test_filters_and_partial_grouping(client: httpx.Client, org: SimulatedOrg) -> None:
    params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3), "models[]": ["claude-opus-4-6"],
              "inference_geos[]": ["us"], "group_by[]": ["workspace_id", "inference_geo"]}
    pages = fetch_all(client, USAGE, params)
    rows = [r for p in pages for b in p["data"] for r in b["results"]]
    assert rows and all(r["inference_geo"] == "us" and r["model"] is None for r in rows)
    served = usage_by(pages, lambda b, r: ())[()]
    expected = org.usage_totals_by(DAY0, DAY3, ("model", "inference_geo"))[("claude-opus-4-6", "us")]
    assert served == [expected[f] for f in USAGE_FIELDS]


def test_only_buckets_ended_by_now_are_served(sim: Simulator, client: httpx.Client) -> None:
    sim.now = datetime(2026, 10, 1, 5, 30, tzinfo=UTC)
    try:
        body = client.get(USAGE, params={"starting_at": "2026-10-01T00:20:00Z", "bucket_width": "1h"}).json()
    finally:
        sim.now = NOW
    assert [b["starting_at"][11:16] for b in body["data"]] == ["00:00", "01:00", "02:00", "03:00", "04:00"]
    assert body["has_more"] is False and body["next_page"] is None


def test_blank_days_and_revisions(client: httpx.Client) -> None:
    org = SimulatedOrg.small(seed=11)
    day1, day2 = DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)
    before = org.usage_totals(day1, day2)
    cost_before = org.cost_totals_by(day1, day2, ("cost_type",))
    org.blank_days.add(date(2026, 10, 1))
    org.adjust(date(2026, 10, 2), 3)
    with Simulator(org, now=NOW) as sim:
        headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
        usage = httpx.get(sim.base_url + USAGE, headers=headers,
                          params={"starting_at": rfc(DAY0), "ending_at": rfc(day2)}).json()
        cost = httpx.get(sim.base_url + COST, headers=headers,
                         params={"starting_at": rfc(DAY0), "ending_at": rfc(day2)}).json()
    assert usage["data"][0]["results"] == [] and cost["data"][0]["results"] == []
    assert usage_by([usage], lambda b, r: ())[()] == [3 * before[f] for f in USAGE_FIELDS]
    assert org.cost_totals_by(day1, day2, ("cost_type",))[("tokens",)] == 3 * cost_before[("tokens",)]


# -- cost report ----------------------------------------------------------------------------------


def test_cost_sums_to_org_and_priority_is_not_billed(client: httpx.Client, sim: Simulator, org: SimulatedOrg) -> None:
    sim.served.reset()
    pages = fetch_all(client, COST, {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3),
                                     "group_by[]": ["workspace_id", "description"]})
    rows = [r for p in pages for b in p["data"] for r in b["results"]]
    assert all(re.fullmatch(r"\d+(\.\d+)?", r["amount"]) and r["currency"] == "USD" for r in rows)
    total = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
    assert total == org.cost_total_cents(DAY0, DAY3) == sim.served.cost_cents
    assert all(r["service_tier"] in ("standard", "batch", None) for r in rows)
    assert len({(b["starting_at"], r["workspace_id"], r["description"]) for p in pages for b in p["data"]
                for r in b["results"]}) == len(rows)
    # Recompute the bill independently from usage x price table: priority usage must be left out.
    prices = PriceTable.load_default()
    dims = ("model", "service_tier", "context_window", "inference_geo")
    expected = Decimal(0)
    for (model, tier, ctx, geo), counts in org.usage_totals_by(DAY0, DAY3, dims).items():
        if tier == "priority":
            continue
        rates = prices.rates(model, tier, ctx, geo)
        assert rates is not None
        per_mtok = [rates.uncached_input, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read, rates.output]
        expected += sum((counts[f] * r for f, r in zip(USAGE_FIELDS, per_mtok)), Decimal(0)) / 10_000
        expected += counts["server_tool_use.web_search_requests"]  # $0.01 = 1 cent per search
    code_execution = sum((Decimal(r["amount"]) for r in rows if r["cost_type"] == "code_execution"), Decimal(0))
    assert code_execution > 0
    assert total == expected + code_execution
    long_ctx_batch = [r for r in rows if r["description"] == "Claude Sonnet 4.5 Usage - Output Tokens "
                                                           "(Batch, Long Context)"]
    assert long_ctx_batch and long_ctx_batch[0]["token_type"] == "output_tokens"


def test_cost_grouping_nulls_and_sums(client: httpx.Client, org: SimulatedOrg) -> None:
    params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3)}
    ungrouped = client.get(COST, params=params).json()
    by_workspace = client.get(COST, params={**params, "group_by[]": "workspace_id"}).json()
    per_day = org.cost_totals_by(DAY0, DAY3, ("day",))
    for bucket in ungrouped["data"]:
        (row,) = bucket["results"]
        assert Decimal(row["amount"]) == per_day[(bucket["starting_at"][:10],)]
        assert row["workspace_id"] is row["description"] is row["model"] is row["token_type"] is None
    per_ws = org.cost_totals_by(DAY0, DAY3, ("day", "workspace_id"))
    for bucket in by_workspace["data"]:
        for row in bucket["results"]:
            assert Decimal(row["amount"]) == per_ws[(bucket["starting_at"][:10], row["workspace_id"])]
            assert row["description"] is None and row["cost_type"] is None
    by_description = client.get(COST, params={**params, "group_by[]": "description"}).json()
    per_desc = org.cost_totals_by(DAY0, DAY3, ("day", "description"))
    rows = 0
    for bucket in by_description["data"]:
        for row in bucket["results"]:
            rows += 1
            assert Decimal(row["amount"]) == per_desc[(bucket["starting_at"][:10], row["description"])]
            assert row["workspace_id"] is None and row["cost_type"] in ("tokens", "web_search", "code_execution")
    assert rows == len(per_desc)


def test_cost_too_recent_is_the_documented_400(client: httpx.Client) -> None:
    response = client.get(COST, params={"starting_at": "2026-10-04T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "Invalid date range: ending date must be after starting date",
    }


def test_cost_lag_moves_the_last_billed_day_back(org: SimulatedOrg) -> None:
    with Simulator(org, now=datetime(2026, 10, 4, 3, tzinfo=UTC), cost_lag_hours=6) as sim:
        headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
        body = httpx.get(sim.base_url + COST, headers=headers, params={"starting_at": rfc(DAY0)}).json()
        too_recent = httpx.get(sim.base_url + COST, headers=headers, params={"starting_at": "2026-10-03T00:00:00Z"})
    # 03:00 minus a 6 h lag is still 2026-10-03: the last billed day is 2026-10-02
    assert [(b["starting_at"], bool(b["results"])) for b in body["data"]] == [
        ("2026-10-01T00:00:00Z", True), ("2026-10-02T00:00:00Z", True)]
    assert too_recent.status_code == 400
    assert too_recent.json()["error"]["message"] == "Invalid date range: ending date must be after starting date"


def test_page_bucket_cap_splits_a_day_over_pages(org: SimulatedOrg) -> None:
    with Simulator(org, now=NOW, page_bucket_cap=5) as sim:
        headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
        params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY0 + timedelta(days=1)), "bucket_width": "1h", "limit": "24"}
        sizes = []
        while True:
            body = httpx.get(sim.base_url + USAGE, headers=headers, params=params).json()
            sizes.append(len(body["data"]))
            if not body["has_more"]:
                break
            params["page"] = body["next_page"]
    assert sizes == [5, 5, 5, 5, 4]


# -- pagination, validation, auth -----------------------------------------------------------------


def test_page_tokens_are_bound_to_their_query(client: httpx.Client) -> None:
    params = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY3), "bucket_width": "1h"}
    first = client.get(USAGE, params=params).json()
    assert first["next_page"].startswith("page_")
    again = client.get(USAGE, params={**params, "page": first["next_page"]})
    assert again.status_code == 200 and again.json()["data"][0]["starting_at"] == "2026-10-02T00:00:00Z"
    for params2, token in [({**params, "group_by[]": "model"}, first["next_page"]), (params, "page_bogus!!")]:
        response = client.get(USAGE, params={**params2, "page": token})
        assert response.status_code == 400
        assert response.json()["error"] == {"type": "invalid_request_error", "message": "Invalid page token"}


@pytest.mark.parametrize(("params", "needle"), [
    ({"bucket_width": "1h", "limit": "169"}, "limit"),
    ({"bucket_width": "1d", "limit": "0"}, "limit"),
    ({"bucket_width": "1m", "limit": "abc"}, "limit"),
    ({"bucket_width": "2h"}, "bucket_width"),
    ({"starting_at": "2026-10-01"}, "starting_at"),
    ({"starting_at": "2026-10-01T00:00:00"}, "starting_at"),
    ({"ending_at": "yesterday"}, "ending_at"),
    ({"ending_at": "2026-09-30T00:00:00Z"}, "ending_at"),
    ({"group_by[]": "colour"}, "group_by[]"),
    ({"group_by": "model"}, "group_by[]"),
    ({"service_tiers[]": "gold"}, "service_tiers[]"),
])
def test_bad_parameters_are_400_naming_the_parameter(client: httpx.Client, params: dict[str, str], needle: str) -> None:
    response = client.get(USAGE, params={"starting_at": rfc(DAY0), **params})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and needle in error["message"]


def test_cost_rejects_hourly_buckets_and_usage_only_grouping(client: httpx.Client) -> None:
    for params in ({"bucket_width": "1h"}, {"group_by[]": "model"}, {"limit": "32"}):
        response = client.get(COST, params={"starting_at": rfc(DAY0), **params})
        assert response.status_code == 400, params


def test_missing_version_unknown_path_and_auth(sim: Simulator, client: httpx.Client) -> None:
    params = {"starting_at": rfc(DAY0)}
    no_version = client.get(USAGE, params=params, headers={"anthropic-version": ""})
    assert no_version.status_code == 400 and "anthropic-version" in no_version.json()["error"]["message"]
    missing = client.get("/v1/organizations/usage_report/nope", params=params)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    secret = "sk-ant-admin01-WRONG-KEY-DO-NOT-ECHO"
    wrong = client.get(USAGE, params=params, headers={"x-api-key": secret})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    assert secret not in wrong.text and "WRONG" not in wrong.text
    api_key = client.get(USAGE, params=params, headers={"x-api-key": "sk-ant-api03-abc"})
    assert api_key.status_code == 401 and "Admin API key" in api_key.json()["error"]["message"]
    for response in (no_version, missing, wrong, api_key):
        assert response.headers["request-id"] == response.json()["request_id"]
    assert secret not in repr(sim.requests)
    last = sim.requests[-1]
    assert last.api_key_sent and last.status == 401 and last.user_agent == "usage-lake-tests/1"
    assert last.anthropic_version == "2023-06-01" and last.path == USAGE


def test_connections_are_kept_alive(sim: Simulator) -> None:
    host, port = sim.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
    conn.request("GET", f"{USAGE}?starting_at=2026-10-01T00:00:00Z", headers=headers)
    assert conn.getresponse().read()
    sock = conn.sock
    conn.request("GET", f"{COST}?starting_at=2026-10-01T00:00:00Z", headers=headers)
    assert conn.getresponse().status == 200 and conn.sock is sock
    conn.close()


def test_stop_ends_keep_alive_connections_and_serve_forever(org: SimulatedOrg) -> None:
    sim = Simulator(org, now=NOW).start()
    headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=sim.base_url, headers=headers) as c:
        assert c.get(COST, params={"starting_at": rfc(DAY0)}).status_code == 200
        sim.stop()
        with pytest.raises(httpx.TransportError):
            c.get(COST, params={"starting_at": rfc(DAY0)})
    blocking = Simulator(org, now=NOW)
    thread = threading.Thread(target=blocking.serve_forever)
    thread.start()
    assert httpx.get(blocking.base_url + COST, headers=headers, params={"starting_at": rfc(DAY0)}).status_code == 200
    blocking.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    started = Simulator(org, now=NOW).start()  # the CLI pattern: start(), print the URL, then block
    waiter = threading.Thread(target=started.serve_forever)
    waiter.start()
    started.stop()
    waiter.join(timeout=5)
    assert not waiter.is_alive()


def test_pages_are_byte_identical_for_the_same_seed() -> None:
    bodies = []
    for _ in range(2):
        with Simulator(SimulatedOrg.small(seed=7), now=NOW) as sim:
            headers = {"x-api-key": sim.admin_key, "anthropic-version": "2023-06-01"}
            usage = {"starting_at": rfc(DAY0), "bucket_width": "1h", "limit": 72, "group_by[]": ALL_DIMS}
            cost = {"starting_at": rfc(DAY0), "group_by[]": ["workspace_id", "description"]}
            bodies.append(httpx.get(sim.base_url + USAGE, headers=headers, params=usage).content
                          + httpx.get(sim.base_url + COST, headers=headers, params=cost).content)
    assert bodies[0] == bodies[1]


# -- faults ---------------------------------------------------------------------------------------

Q = {"starting_at": rfc(DAY0), "ending_at": rfc(DAY0 + timedelta(days=1)), "bucket_width": "1h"}


def test_rate_limit_with_and_without_retry_after(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add(Fault.rate_limit(retry_after="2"), times=1)
    sim.faults.add(Fault.rate_limit(retry_after=None), times=1)
    first, second, third = (client.get(USAGE, params=Q) for _ in range(3))
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert third.status_code == 200
    assert [r.fault for r in sim.requests[-3:]] == ["rate_limit", "rate_limit", None]


def test_status_faults_by_path(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add(Fault.status(503), times=2, path="cost_report")
    sim.faults.add(Fault.status(529), times=1)
    usage = client.get(USAGE, params=Q)
    costs = [client.get(COST, params={"starting_at": rfc(DAY0)}) for _ in range(3)]
    assert usage.status_code == 529 and usage.json()["error"]["type"] == "overloaded_error"
    assert [r.status_code for r in costs] == [503, 503, 200]
    assert costs[0].json()["error"]["type"] == "api_error"
    assert client.get(USAGE, params=Q).status_code == 200


def test_every_and_after(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.every(2, Fault.status(500))
    assert [client.get(USAGE, params=Q).status_code for _ in range(4)] == [200, 500, 200, 500]
    sim.faults.clear()
    sim.faults.after(2, Fault.status(502))
    assert [client.get(USAGE, params=Q).status_code for _ in range(4)] == [200, 200, 502, 502]


def test_drop_closes_without_response(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add(Fault.drop())
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(USAGE, params=Q)
    assert sim.requests[-1].status is None and sim.requests[-1].fault == "drop"
    assert client.get(USAGE, params=Q).status_code == 200


def test_truncate_is_valid_http_with_invalid_json(sim: Simulator, client: httpx.Client) -> None:
    full = client.get(USAGE, params=Q).content
    sim.faults.add(Fault.truncate())
    response = client.get(USAGE, params=Q)
    assert response.status_code == 200 and response.content == full[: len(full) // 2]
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_short_read_breaks_the_transfer(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add(Fault.short_read())
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(USAGE, params=Q)
    assert sim.requests[-1].status == 200 and sim.requests[-1].fault == "short_read"
    assert client.get(USAGE, params=Q).status_code == 200


def test_not_json_slow_and_missing_field(sim: Simulator, client: httpx.Client) -> None:
    sim.served.reset()
    sim.faults.add(Fault.not_json())
    html = client.get(USAGE, params=Q)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    sim.faults.add(Fault.slow(0.3))
    began = time.perf_counter()
    assert client.get(USAGE, params=Q).status_code == 200
    assert time.perf_counter() - began >= 0.3
    sim.faults.add(Fault.missing_field("output_tokens"))
    rows = [r for b in client.get(USAGE, params=Q).json()["data"] for r in b["results"]]
    assert rows and all("output_tokens" not in r and "uncached_input_tokens" in r for r in rows)
    assert sim.served.usage_pages == 1  # only the slow (complete, unmangled) answer counts
    assert [r.fault for r in sim.requests[-3:]] == ["not_json", "slow", "missing_field"]


def test_fault_spec_is_seeded_and_deterministic() -> None:
    def run(seed: int) -> list[str | None]:
        plan = FaultPlan.from_spec("429:0.2,503:0.1,drop:0.05,truncate:0.05,slow=0.5:0.1", seed=seed)
        return [None if (f := plan.pick(USAGE)) is None else f.name for _ in range(200)]

    first = run(1)
    assert first == run(1) and first != run(2)
    assert {"rate_limit", "status_503", "drop", "truncate", "slow", None} <= set(first)
    assert 20 <= first.count("rate_limit") <= 60
    assert FaultPlan.from_spec("slow=2").pick(USAGE) == Fault.slow(2)
    assert FaultPlan.from_spec("429=none").pick(USAGE) == Fault.rate_limit(None)
    with pytest.raises(ValueError, match="unknown kind"):
        FaultPlan.from_spec("explode:0.1")


def test_page_edits_for_the_data_guards(sim: Simulator, client: httpx.Client) -> None:
    """The faults behind issue 8's guard tests: a changed value, a repeated row, a query that stops early."""
    normal = client.get(USAGE, params=Q).json()
    sim.faults.add(Fault.set_field("server_tool_use.web_search_requests", -3))
    changed = client.get(USAGE, params=Q).json()
    first = next(b for b in changed["data"] if b["results"])
    assert first["results"][0]["server_tool_use"]["web_search_requests"] == -3
    sim.faults.add(Fault.duplicate_row())
    repeated = client.get(USAGE, params=Q).json()
    first_normal = next(b for b in normal["data"] if b["results"])
    first = next(b for b in repeated["data"] if b["results"])
    assert first["results"][0] == first["results"][1] and len(first["results"]) == len(first_normal["results"]) + 1
    sim.faults.add(Fault.short_page(2))
    short = client.get(USAGE, params=Q).json()
    assert short["data"] == normal["data"][:2] and short["has_more"] is False and short["next_page"] is None
    assert FaultPlan.from_spec("set_field=output_tokens=-1").pick(USAGE) == Fault.set_field("output_tokens", -1)
    assert FaultPlan.from_spec("short_page=3").pick(USAGE) == Fault.short_page(3)
    assert FaultPlan.from_spec("duplicate_row").pick(USAGE) == Fault.duplicate_row()
