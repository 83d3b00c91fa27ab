"""The cards in a real browser (Debian's headless Chromium, driven by Playwright): no horizontal
overflow on a phone or a desktop, readable contrast in light and night mode, screenshots kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ankigen import build as pipeline
from ankigen.preview import write_site

from .conftest import REPO, SEEDS, missing

CHROMIUM = Path(os.environ.get("ANKIGEN_CHROMIUM", "/usr/bin/chromium"))
SHOWCASE = REPO / "tests" / "data" / "showcase.md"
SCREENSHOTS = REPO / "tests" / "output" / "screenshots"
WIDTHS = (375, 900)
MODES = ("light", "night")

# For every element with visible text: its colour against the background it is painted on
# (semi-transparent backgrounds composited up to the page), as a WCAG contrast ratio.
CONTRAST_JS = """
(root) => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => { const a = top[3] + bottom[3] * (1 - top[3]); if (a === 0) return [0, 0, 0, 0];
    return [0, 1, 2].map(i => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat([a]); };
  const background = (el) => { const layers = []; for (let e = el; e; e = e.parentElement) {
      layers.push(parse(getComputedStyle(e).backgroundColor)); }
    let color = [255, 255, 255, 1]; for (let i = layers.length - 1; i >= 0; i--) color = over(layers[i], color);
    return color; };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const results = [];
  for (const el of root.querySelectorAll('*')) {
    const text = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if (!text) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    results.push({ratio: (a + 0.05) / (b + 0.05), text: text.slice(0, 40), cls: el.className || el.tagName,
                  code: !!el.closest('.highlight'), color: style.color});
  }
  return results;
}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("preview")
    planned = pipeline.plan([SEEDS, SHOWCASE])
    write_site(planned.decks, out)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing(f"Chromium at {CHROMIUM}", "apt-get install chromium; .ci/run installs it")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield launched
        launched.close()


PAGES = ["learning-ebpf-chapter-01.html", "learning-ebpf-chapter-02.html", "showcase-of-card-features-chapter-01.html"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_name", PAGES)
def test_cards_fit_and_read_well(site: Path, browser: Any, page_name: str, width: int, mode: str) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(f"{(site / page_name).as_uri()}?mode={mode}")
        night = page.evaluate(
            "document.body.classList.contains('nightMode') && document.body.classList.contains('night_mode')"
        )
        assert night == (mode == "night")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{Path(page_name).stem}-{mode}-{width}.png"), full_page=True)

        scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert scroll <= client, f"the page overflows sideways: {scroll} > {client}"
        # Code blocks scroll inside themselves; images shrink to fit.
        for block in page.query_selector_all(".ag-answer .highlight"):
            box = block.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width
        wide = page.evaluate(
            "Array.from(document.querySelectorAll('.highlight pre')).some(p => p.scrollWidth > p.clientWidth)"
        )
        if page_name.startswith("showcase"):
            assert wide, "the showcase's long code line scrolls inside its block"

        results = page.evaluate(CONTRAST_JS, page.query_selector("main"))
        has_code = page_name != "learning-ebpf-chapter-01.html"
        assert any(r["code"] for r in results) == has_code
        poor = [r for r in results if r["ratio"] < 4.5]
        assert poor == [], poor[:10]
    finally:
        page.close()


def test_math_is_laid_out_not_raw_tex(site: Path, browser: Any) -> None:
    """The preview shows math as math (MathML, no script, no network), not TeX source."""
    page = browser.new_page()
    try:
        page.goto((site / PAGES[2]).as_uri())
        text = page.inner_text("main")
        assert "\\frac" not in text and "\\(" not in text and "\\sum" not in text
        assert "$USER" in text  # a dollar sign in code is not math
        boxes = page.evaluate(
            """Array.from(document.querySelectorAll('main math')).map(m => {
                 const r = m.getBoundingClientRect(); return [m.getAttribute('display'), r.width, r.height]; })"""
        )
        assert len(boxes) >= 4 and all(width > 0 and height > 0 for _, width, height in boxes), boxes
        # A fraction is laid out stacked: taller than its numerator alone.
        stacked = page.evaluate(
            """Array.from(document.querySelectorAll('main mfrac')).map(f =>
                 [f.getBoundingClientRect().height, f.firstElementChild.getBoundingClientRect().height])"""
        )
        assert stacked and all(whole > 1.5 * numerator > 0 for whole, numerator in stacked), stacked
    finally:
        page.close()


def test_night_switch_button(site: Path, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto((site / "index.html").as_uri())
        assert "Learning eBPF" in page.inner_text("main")
        page.click("#ag-mode")
        assert page.evaluate("document.body.classList.contains('night_mode')")
        page.click("#ag-mode")
        assert not page.evaluate("document.body.classList.contains('night_mode')")
    finally:
        page.close()


def teardown_module() -> None:
    """Screenshots stay in tests/output/ (git-ignored) for a person to look at."""
    if os.environ.get("ANKIGEN_DROP_SCREENSHOTS"):
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)


def test_the_contrast_check_can_fail(browser: Any) -> None:
    """Pale grey on white must be caught, or the checks above prove nothing."""
    page = browser.new_page()
    try:
        page.set_content('<main><p style="color:#bbbbbb">pale</p><p style="color:#000">dark</p></main>')
        results = page.evaluate(CONTRAST_JS, page.query_selector("main"))
        ratios = {r["text"]: r["ratio"] for r in results}
        assert ratios["pale"] < 2.0 and ratios["dark"] == pytest.approx(21.0)
    finally:
        page.close()
