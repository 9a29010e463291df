"""The SLA report page on fakes: table and SVG chart per department, an empty report, bad weeks."""

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.events import StaffMember
from tests.unit.portal.test_staff_pages import FakeStaffApi, VendorOidc, staff_app, staff_sign_in

WEEK = {
    "week": "2026-11-30",
    "cases": 3,
    "first_response": {
        "met": 2,
        "breached": 1,
        "percent_met": 66.7,
        "median_hours": 1.5,
        "p90_hours": 4.0,
        "median_business_hours": 0.5,
        "p90_business_hours": 2.0,
    },
    "resolution": {
        "met": 0,
        "breached": 0,
        "percent_met": None,
        "median_hours": None,
        "p90_hours": None,
        "median_business_hours": None,
        "p90_business_hours": None,
    },
}
REPORT = {
    "since": "2026-11-30",
    "weeks": 1,
    "departments": [{"department": "Campus Support", "weeks": [WEEK]}],
}


class ReportApi(FakeStaffApi):
    """routing answering /reports/sla with a set report, recording the asked weeks."""

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] = REPORT
        self.asked: list[str] = []

    async def call(
        self, service: str, method: str, member: StaffMember, path: str, **kw: Any
    ) -> Any:
        if path == "/reports/sla":
            self.asked.append(kw["params"]["weeks"])
            return self.report
        return await super().call(service, method, member, path, **kw)


@pytest.fixture
async def report_site() -> AsyncIterator[tuple[httpx.AsyncClient, ReportApi]]:
    api = ReportApi()
    async with staff_app(api, VendorOidc("staff-support@vendor.example")) as client:
        await staff_sign_in(client)
        yield client, api


async def test_the_report_shows_a_table_and_a_chart(report_site: Any) -> None:
    client, api = report_site
    page = await client.get("/staff/reports/sla", params={"weeks": "1"})
    assert page.status_code == 200
    assert api.asked == ["1"]
    html = page.text
    assert '<a href="/staff/reports/sla" aria-current="page">SLA report</a>' in html
    assert "<strong>business hours</strong> first" in html
    assert "<td>2 / 1</td>" in html
    assert "<td>66.7 %</td>" in html
    assert "<td>0.5 / 1.5</td>" in html  # median: business hours, then wall-clock
    assert "<td>2.0 / 4.0</td>" in html  # p90
    assert "<td>\u2013 / \u2013</td>" in html  # resolutions: none decided
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    title = root.find(f"{ns}title")
    assert title is not None
    assert title.text == "Campus Support: % of SLA targets met per week"
    assert len(list(root.iter(f"{ns}rect"))) == 1  # resolutions: none decided, no bar
    assert "<script" not in html.split("<main", 1)[1]


async def test_the_default_is_eight_weeks(report_site: Any) -> None:
    client, api = report_site
    assert (await client.get("/staff/reports/sla")).status_code == 200
    assert api.asked == ["8"]


async def test_an_empty_report_says_so(report_site: Any) -> None:
    client, api = report_site
    api.report = {"since": "2026-10-12", "weeks": 8, "departments": []}
    page = await client.get("/staff/reports/sla")
    assert page.status_code == 200
    assert "No cases had their SLA clocks start in the last 8 weeks." in page.text
    assert "<svg" not in page.text.split("<main", 1)[1]


@pytest.mark.parametrize("weeks", ["0", "53", "abc", "-1"])
async def test_bad_weeks_is_a_400_page_without_asking_routing(report_site: Any, weeks: str) -> None:
    client, api = report_site
    page = await client.get("/staff/reports/sla", params={"weeks": weeks})
    assert page.status_code == 400
    assert "Weeks must be a whole number from 1 to 52." in page.text
    assert api.asked == []
