"""The screens' endpoints: scoped totals, queue, inbox, visits, supervision board, live events, SPA serving."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import fengqiao.api_screens as screens
from fengqiao.app import create_app
from fengqiao.cases.service import apply, register
from fengqiao.db import utcnow
from fengqiao.settings import load_settings
from fengqiao.supervision.service import scan_once
from fengqiao.web import mount_frontend
from fengqiao.web.live import LiveFeed
from support import PASSWORD, POINT_B, County, move, walk_in


@pytest.fixture
def client(county: County, tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(demo=True, data_dir=tmp_path)
    with TestClient(create_app(settings, county.db)) as c:
        yield c


def _h(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _case(county: County, *moves: tuple[str, str, dict], now=None, **kw) -> int:  # type: ignore[no-untyped-def]
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(**kw), now=now)
        for who, action, extra in moves:
            apply(s, county.people[who], case.id, move(action, **extra), now=now)
        return case.id


DISPATCHED = (("operator", "classify", {"catalog_item_code": "T-003"}), ("operator", "dispatch", {}))


def test_dashboard_counts_only_what_the_user_may_see(county: County, client: TestClient) -> None:
    _case(county)
    _case(county, lat=POINT_B[0], lon=POINT_B[1], address="乙镇")
    whole = client.get("/api/screens/dashboard", headers=_h(client, "operator")).json()
    town_a = client.get("/api/screens/dashboard", headers=_h(client, "operator_a")).json()
    assert whole["totals"]["today"] == 2 and whole["totals"]["open"] == 2
    assert town_a["totals"]["today"] == 1
    assert sum(whole["open_disputes_by_grid"].values()) == 2
    assert [c["number"] for c in town_a["newest"]] == [whole["newest"][1]["number"]]


def test_queue_offers_a_suggestion_and_only_allowed_moves(county: County, client: TestClient) -> None:
    cid = _case(county, description="邻居之间的纠纷，堆放杂物占用楼道")
    body = client.get("/api/screens/queue", headers=_h(client, "operator")).json()
    row = next(r for r in body["items"] if r["id"] == cid)
    assert row["suggested_item"]["code"] == "T-001"
    assert row["proposal"]["department_name"] == "村（社区）委员会"
    assert row["allowed_actions"] == ["classify", "void"]
    assert row["reporter"]["phone"] == "13812345678"
    # The triage router's confidence, track, risk and reasons, for the operator to weigh.
    proposal = row["proposal"]
    assert 0 < proposal["confidence"] <= 1 and proposal["track"] in ("马上调", "联合调", "包案调")
    assert proposal["suggested_risk"] in ("高", "中", "低")
    assert proposal["reasons"] and any("置信度" in r for r in proposal["reasons"])
    assert client.get("/api/screens/queue", headers=_h(client, "handler_zhujian")).status_code == 403


def test_screen_config_gives_the_tile_server_only_when_one_is_set(client: TestClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    h = _h(client, "leader")
    monkeypatch.delenv(screens.TILE_URL_ENV, raising=False)
    assert client.get("/api/screens/config", headers=h).json() == {"tile_url": None}
    monkeypatch.setenv(screens.TILE_URL_ENV, " http://tiles.local/{z}/{x}/{y}.png ")
    assert client.get("/api/screens/config", headers=h).json() == {"tile_url": "http://tiles.local/{z}/{x}/{y}.png"}
    monkeypatch.setenv(screens.TILE_URL_ENV, "http://tiles.local/tile.png")  # cannot address a tile
    assert client.get("/api/screens/config", headers=h).json() == {"tile_url": None}
    assert client.get("/api/screens/config").status_code == 401


def test_queue_flags_an_open_case_from_the_same_caller(county: County, client: TestClient) -> None:
    first = _case(county)
    second = _case(county)
    body = client.get("/api/screens/queue", headers=_h(client, "operator")).json()
    row = next(r for r in body["items"] if r["id"] == second)
    assert [d["id"] for d in row["possible_duplicates"]] == [first]


def test_inbox_is_the_departments_own_with_overdue_first(county: County, client: TestClient) -> None:
    late = _case(county, *DISPATCHED, now=utcnow() - timedelta(hours=6))  # 4-hour item: overdue
    fresh = _case(county, *DISPATCHED)
    _case(county, ("operator", "classify", {"catalog_item_code": "T-002"}), ("operator", "dispatch", {}))
    body = client.get("/api/screens/inbox", headers=_h(client, "handler_zhujian")).json()
    assert [r["id"] for r in body["items"]] == [late, fresh]
    assert body["overdue"] == 1 and body["items"][0]["overdue"] is True
    assert body["items"][0]["allowed_actions"] == ["accept", "return", "escalate"]


def test_visits_list_handled_cases_with_the_number_to_call(county: County, client: TestClient) -> None:
    cid = _case(county, *DISPATCHED, ("handler_zhujian", "accept", {}), ("handler_zhujian", "feedback", {"note": "已更换井盖"}))
    body = client.get("/api/screens/visits", headers=_h(client, "operator")).json()
    assert [r["id"] for r in body["items"]] == [cid]
    assert body["items"][0]["feedback"] == "已更换井盖" and body["items"][0]["reporter"]["phone"] == "13812345678"
    client.post(f"/api/cases/{cid}/visits", json={"reached": False}, headers=_h(client, "operator"))
    body = client.get("/api/screens/visits", headers=_h(client, "operator")).json()
    assert body["items"][0]["attempts"] == 1 and body["done_today"] == 1


def test_supervision_board_groups_by_department_and_town_and_proposes_the_next_step(county: County,
                                                                                  client: TestClient) -> None:
    t0 = utcnow() - timedelta(hours=6)
    cid = _case(county, *DISPATCHED, now=t0)
    scan_once(county.db)
    body = client.get("/api/screens/supervision", headers=_h(client, "supervisor")).json()
    assert body["overdue"] == 1
    assert body["by_department"] == [{"department": "县住房和城乡建设局", "warning": 0, "overdue": 1, "actions": 1}]
    assert body["by_town"][0]["town"] == "甲镇"
    row = body["cases"][0]
    assert row["id"] == cid and row["last_action"]["kind"] == "urging" and row["next_action"] == "notice"
    assert client.get("/api/screens/supervision", headers=_h(client, "handler_zhujian")).status_code == 403


def test_person_cases_finds_earlier_cases_by_phone_or_id_number(county: County, client: TestClient) -> None:
    cid = _case(county)
    h = _h(client, "operator")
    assert [c["id"] for c in client.get("/api/screens/person-cases", params={"phone": "13812345678"},
                                        headers=h).json()["items"]] == [cid]
    assert client.get("/api/screens/person-cases", params={"id_number": "11010519491231002X"},
                      headers=h).json()["total"] == 1
    assert client.get("/api/screens/person-cases", params={"phone": "13812345678"},
                      headers=_h(client, "operator_b")).json()["total"] == 0
    assert client.get("/api/screens/person-cases", headers=h).status_code == 422


def test_grid_worker_sees_reports_tasks_and_points(county: County, client: TestClient) -> None:
    h = _h(client, "grid_worker")
    r = client.post("/api/cases", headers=h, json={"kind": "hazard", "channel": "grid", "description": "井盖缺失",
                                                   "lat": 34.02, "lon": 114.02})
    assert r.status_code == 201, r.text
    body = client.get("/api/screens/grid-worker", headers=h).json()
    assert body["reported"] == 1 and body["points"] == 1
    assert [c["id"] for c in body["tasks"]] == [r.json()["id"]]


def test_event_stream_replays_changes_after_an_id_within_the_users_scope(county: County, client: TestClient,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screens, "STREAM_SECONDS", 0.3)
    mine = _case(county)
    _case(county, lat=POINT_B[0], lon=POINT_B[1], address="乙镇")
    body = client.get("/api/screens/events", params={"after": 0}, headers=_h(client, "operator_a")).text
    assert body.startswith("retry: 1000")
    assert f'"case_id": {mine}' in body and body.count("event: change") == 1
    assert client.get("/api/screens/events").status_code == 401


def test_live_feed_fans_out_each_new_outbox_row_once(county: County) -> None:
    async def run() -> list[int]:
        feed = LiveFeed(county.db)
        queue = await feed.subscribe()
        await asyncio.to_thread(_case, county)
        await feed.poll_once()
        await feed.poll_once()
        feed.unsubscribe(queue)
        if feed.task:
            await feed.task
        return [queue.get_nowait().case_id for _ in range(queue.qsize())]

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever runs in this thread
        ids = pool.submit(asyncio.run, run()).result()
    assert len(ids) == 1


def test_screens_are_served_with_a_fallback_to_index_html(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<div id=app></div>", encoding="utf-8")
    (tmp_path / "assets" / "app-1.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {})", encoding="utf-8")
    app = FastAPI()
    mount_frontend(app, tmp_path)

    @app.get("/api/later")  # a router added after the screens still wins
    def later() -> dict[str, bool]:
        return {"ok": True}

    c = TestClient(app)
    assert c.get("/queue").text == "<div id=app></div>"
    assert c.get("/cases/12").headers["cache-control"] == "no-cache"
    assert "immutable" in c.get("/assets/app-1.js").headers["cache-control"]
    # The service worker is checked for a new build on every visit: never cached for long.
    worker = c.get("/sw.js")
    assert worker.headers["cache-control"] == "no-cache" and "javascript" in worker.headers["content-type"]
    assert c.get("/assets/missing.js").status_code == 404
    assert c.get("/api/later").json() == {"ok": True}
    assert c.get("/api/nothing").status_code == 404
    assert c.get("/../pyproject.toml").text == "<div id=app></div>"
