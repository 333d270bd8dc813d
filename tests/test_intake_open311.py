"""Open311 GeoReport v2: an existing client lists services, creates a request and polls its status.

Checked against the specification's documented fields and formats (http://wiki.open311.org/GeoReport_v2).
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from intake_support import Api, api  # noqa: F401
from support import POINT_A

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def _key(api: Api) -> str:
    return api.source(code="app-311", channel="open311", mapping={}, feedback=False)


def _create(api: Api, key: str, fmt: str = "json", **fields: str):  # type: ignore[no-untyped-def]
    data = {"api_key": key, "service_code": "T-003", "lat": str(POINT_A[0]), "long": str(POINT_A[1]),
            "address_string": "甲镇1村人民路 12 号", "description": "人行道上窨井盖缺失", "first_name": "小明",
            "last_name": "李", "phone": "13812340000", "email": "li@example.cn",
            "media_url": "https://img.example.cn/1.jpg"}
    data.update(fields)
    return api.client.post(f"/open311/v2/requests.{fmt}", data=data)


def test_client_flow_list_services_create_and_poll_json(api: Api) -> None:
    r = api.client.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert {s["service_code"] for s in services} == {"T-001", "T-002", "T-003", "T-004", "T-005"}
    for s in services:
        assert set(s) == SERVICE_FIELDS and s["metadata"] is False and s["type"] == "realtime"
    definition = api.client.get("/open311/v2/services/T-003.json").json()
    assert definition == {"service_code": "T-003", "attributes": []}

    key = _key(api)
    created = _create(api, key)
    assert created.status_code == 200, created.text
    [receipt] = created.json()
    assert set(receipt) == {"service_request_id", "service_notice", "account_id"}
    rid = receipt["service_request_id"]

    [req] = api.client.get(f"/open311/v2/requests/{rid}.json").json()
    assert set(req) == REQUEST_FIELDS
    assert req["status"] == "open" and req["service_code"] == "T-003" and req["service_name"] == "窨井盖缺失破损"
    assert req["agency_responsible"] == "县住房和城乡建设局"  # from the list item until routed
    assert W3.match(req["requested_datetime"]) and W3.match(req["expected_datetime"])
    assert req["lat"] == POINT_A[0] and req["long"] == POINT_A[1]
    assert req["media_url"] == "https://img.example.cn/1.jpg"

    case = api.get("operator", f"/api/cases/by-number/{rid}").json()
    assert case["parties"][0]["name"] == "李小明"
    api.move("operator", case["id"], "classify", catalog_item_code="T-003")
    api.move("operator", case["id"], "dispatch")
    api.move("handler_zhujian", case["id"], "accept")
    api.move("handler_zhujian", case["id"], "feedback", note="已更换井盖")
    api.post("operator", f"/api/cases/{case['id']}/visits", json={"reached": True, "solved": True, "satisfaction": "满意"})
    [done] = api.client.get(f"/open311/v2/requests/{rid}.json").json()
    assert done["status"] == "closed" and "已更换井盖" in done["status_notes"]
    assert done["expected_datetime"] is None and W3.match(done["updated_datetime"])


def test_client_flow_in_xml(api: Api) -> None:
    r = api.client.get("/open311/v2/services.xml")
    assert r.headers["content-type"].startswith("text/xml")
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(r.content)
    assert root.tag == "services" and {c.tag for c in root[0]} == SERVICE_FIELDS
    assert root[0].find("metadata").text == "false"  # type: ignore[union-attr]
    definition = ET.fromstring(api.client.get("/open311/v2/services/T-001.xml").content)
    assert definition.tag == "service_definition" and definition.find("service_code").text == "T-001"  # type: ignore[union-attr]

    key = _key(api)
    created = ET.fromstring(_create(api, key, fmt="xml").content)
    assert created.tag == "service_requests" and created[0].tag == "request"
    rid = created[0].find("service_request_id").text  # type: ignore[union-attr]
    assert created[0].find("account_id") is not None
    got = ET.fromstring(api.client.get(f"/open311/v2/requests/{rid}.xml").content)
    assert got.tag == "service_requests"
    request = got.find("request")
    assert request is not None and {c.tag for c in request} == REQUEST_FIELDS
    assert request.find("status").text == "open" and request.find("zipcode").text is None  # type: ignore[union-attr]


def test_request_list_filters(api: Api) -> None:
    key = _key(api)
    a = _create(api, key).json()[0]["service_request_id"]
    b = _create(api, key, service_code="T-001", lat="34.22", long="114.22", description="邻居装修噪音扰民").json()[0][
        "service_request_id"]
    api.post("operator", "/api/cases", json={"kind": "dispute", "channel": "window", "description": "窗口登记的",
                                             "address": "甲镇"})  # not an Open311 request: never listed
    everything = api.client.get("/open311/v2/requests.json").json()
    assert {x["service_request_id"] for x in everything} == {a, b}
    assert [x["service_request_id"] for x in api.client.get(
        "/open311/v2/requests.json", params={"service_code": "T-001"}).json()] == [b]
    assert [x["service_request_id"] for x in api.client.get(
        "/open311/v2/requests.json", params={"service_request_id": f"{a},nope", "status": "closed"}).json()] == [a]
    assert api.client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []
    old = api.client.get("/open311/v2/requests.json", params={"start_date": "2010-01-01T00:00:00Z",
                                                              "end_date": "2010-02-01T00:00:00Z"}).json()
    assert old == []
    root = ET.fromstring(api.client.get("/open311/v2/requests.xml", params={"status": "open"}).content)
    assert len(root.findall("request")) == 2


def test_errors_come_in_the_specifications_format(api: Api) -> None:
    key = _key(api)
    r = _create(api, "wrong-key")
    assert r.status_code == 403 and r.json()[0]["code"] == 403 and "api_key" in r.json()[0]["description"]
    r = _create(api, key, service_code="NOPE")
    assert r.status_code == 404 and set(r.json()[0]) == {"code", "description"}
    r = _create(api, key, lat="", long="", address_string="")
    assert r.status_code == 400 and "lat" in r.json()[0]["description"]
    r = _create(api, key, phone="42")
    assert r.status_code == 400 and "phone" in r.json()[0]["description"]
    r = _create(api, key, fmt="xml", service_code="")
    root = ET.fromstring(r.content)
    assert r.status_code == 400 and root.tag == "errors" and root[0].tag == "error"
    assert root[0].find("code").text == "400" and root[0].find("description").text  # type: ignore[union-attr]
    assert api.client.get("/open311/v2/requests/19990101-0001.json").status_code == 404
    r = api.client.get("/open311/v2/requests.json", params={"start_date": "2026-01-01T00:00:00Z",
                                                            "end_date": "2026-06-01T00:00:00Z"})
    assert r.status_code == 400 and "90" in r.json()[0]["description"]
    assert api.client.get("/open311/v2/services.json", params={"jurisdiction_id": "elsewhere.gov"}).status_code == 404
    assert api.client.get("/open311/v2/services.yaml").status_code == 404
    # A grid api key (hotline source) is not an Open311 key.
    hotline = api.source()
    assert _create(api, hotline).status_code == 403


def test_open311_reports_are_rate_limited_per_phone(api: Api) -> None:
    key = _key(api)
    for i in range(3):
        assert _create(api, key, lat=str(34.30 + i * 0.01)).status_code == 200
    r = _create(api, key)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and r.json()[0]["code"] == 429
