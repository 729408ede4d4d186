"""The HTML report is one file that works offline, shows the verdict and a plot per column."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopline.monitoring.drift import DriftDetector, DriftReport
from loopline.monitoring.html import render_html

CHROMIUM = Path("/usr/bin/chromium")


def _report() -> DriftReport:
    rng = np.random.default_rng(0)
    ref = pa.table(
        {
            "age": rng.normal(40, 10, 2000),
            "plan": rng.choice(["basic", "pro"], 2000),
            "<b>odd name</b>": rng.integers(0, 5, 2000),
        }
    )
    cur = pa.table(
        {
            "age": rng.normal(50, 10, 500),
            "plan": rng.choice(["basic", "pro", "new</script>"], 500),
            "<b>odd name</b>": rng.integers(0, 5, 500),
        }
    )
    return DriftDetector().run(ref, cur)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._script_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._script_id = dict(attrs).get("id") if tag == "script" else None

    def handle_data(self, data: str) -> None:
        if self._script_id:
            self.data[self._script_id] = data


def test_report_is_self_contained_and_carries_its_json() -> None:
    report = _report()
    page = render_html(report, title="churn", context={"model": "churn", "version": "3"})
    parser = _Collector()
    parser.feed(page)
    # Nothing is fetched at view time: no external scripts, styles, images or fonts.
    for tag, attrs in parser.tags:
        for key in ("src", "href"):
            assert not attrs.get(key), (tag, attrs)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert sum(tag == "svg" for tag, _ in parser.tags) == 3  # one plot per column
    assert "Drift detected" in page or "No dataset drift" in page
    embedded = json.loads(parser.data["report-data"])
    assert {k: embedded[k] for k in report.to_dict()} == report.to_dict()
    # Column names and levels are escaped, never markup.
    assert "<b>odd name</b>" not in page and "&lt;b&gt;odd name&lt;/b&gt;" in page
    assert "new</script>" not in page


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the chromium package")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "report.html"
    path.write_text(render_html(_report(), title="churn"), encoding="utf-8")
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(path.as_uri())
            assert page.locator("tbody tr").count() == 3
            assert page.locator("tr.drifted .name").first.inner_text() == "age"
            assert page.locator("svg rect").count() > 10
            page.check("#only-drifted")
            visible = [r for r in page.locator("tbody tr").all() if r.is_visible()]
            assert len(visible) == sum(c.drifted for c in _report().columns)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert not errors
        finally:
            browser.close()
    assert requests == [path.as_uri()]


def test_category_bars_share_one_scale_with_the_others_bucket() -> None:
    """Forty levels of 2.5% each: eight drawn, the other 80% in "others"; a level's bar must
    be a small fraction of the "others" bar, not clipped to the same width."""
    levels = np.repeat([f"level{i:02d}" for i in range(40)], 25)
    table = pa.table({"plan": levels})
    report = DriftDetector(categorical=["plan"]).run(table, table)
    [column] = [c for c in report.columns if c.name == "plan"]
    plot = column.plot
    assert plot is not None and plot.labels[-1].endswith(" others")
    page = render_html(report)
    widths = [float(w) for w in re.findall(r"<rect x='78' y='[\d.]+' width='([\d.]+)'", page)]
    assert len(widths) == 2 * len(plot.labels)
    level, others = widths[0], widths[-2]  # reference bars of one level and of "others"
    assert others == pytest.approx(128, abs=0.1)  # the largest share spans the whole bar
    assert level == pytest.approx(128 * plot.reference[0] / plot.reference[-1], abs=0.1)
