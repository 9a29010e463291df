"""The SLA chart is plain SVG with a title, a description and one bar per decided value."""

import xml.etree.ElementTree as ET

from portal.sla_chart import HEIGHT, WeekPoint, met_chart

NS = "{http://www.w3.org/2000/svg}"


def test_bars_only_for_decided_weeks_and_heights_scale_to_percent() -> None:
    svg = met_chart(
        "c1",
        "Training <% met>",
        [WeekPoint("2026-11-23", 50.0, None), WeekPoint("2026-11-30", 100.0, 0.0)],
    )
    root = ET.fromstring(svg)
    assert root.find(f"{NS}title").text == "Training <% met>"  # type: ignore[union-attr]
    desc = root.find(f"{NS}desc").text  # type: ignore[union-attr]
    assert desc == (
        "2026-11-23: 50 % met first responses, no decided resolutions; "
        "2026-11-30: 100 % met first responses, 0 % met resolutions"
    )
    heights = [float(r.get("height", "")) for r in root.iter(f"{NS}rect")]
    plot = HEIGHT - 30 - 10
    assert heights == [plot / 2, plot, 0.0]
    assert "<script" not in svg


def test_an_empty_chart_says_so() -> None:
    root = ET.fromstring(met_chart("c2", "Nothing", []))
    assert root.find(f"{NS}desc").text == "No weeks to show."  # type: ignore[union-attr]
    assert list(root.iter(f"{NS}rect")) == []
