"""The built site in a real browser: offline, every figure drawn, links whole, nothing cut off.

Serves ``_build/html`` on 127.0.0.1, opens every page in headless Chromium (Debian's package,
driven by Playwright) and blocks every request to any other host: the book must not need one.
Saves a screenshot of each page under ``_build/screenshots/``. ``SUPERPOS_SITE`` points it at
another built site (its screenshots go beside it).

Skips, saying why, when there is no built site or no Chromium; ``.ci/run`` builds the site
first and sets ``SUPERPOS_REQUIRE_SITE_TEST=1`` so that in CI a skip is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("SUPERPOS_SITE", ROOT / "_build" / "html"))  # another built site: a test's own
SHOTS = SITE.parent / "screenshots"
CHROMIUM = os.environ.get("SUPERPOS_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("SUPERPOS_REQUIRE_SITE_TEST") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Jupyter Book 1's own noise, tolerated on every page (nothing of ours):
ALLOWED_PAGE_ERRORS = [
    r"Identifier 'THEBE_JS_URL' has already been declared",  # sphinx-thebe declares it twice
    r"Got invalid theme mode",  # pydata-sphinx-theme, before its theme setting is read
]

PAGES = sorted(
    p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0].startswith("_")
) or ["index.html"]


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@dataclass
class Visit:
    page: object
    outside_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        _unavailable(f"no built site in {SITE}: run the README's build command first")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (python -m pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield base, context
        context.close()
        browser.close()
    server.shutdown()


def visit(site, path: str) -> Visit:
    base, context = site
    page = context.new_page()
    v = Visit(page)

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            v.outside_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda err: v.errors.append(str(err)))
    page.on("response", lambda res: res.status >= 400 and v.bad_responses.append(f"{res.status} {res.url}"))
    page.goto(base + path, wait_until="load")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', (SITE / path).read_text(), re.I)
    if redirect:  # Jupyter Book's index.html forwards to the root page
        page.wait_for_url(urljoin(base + path, redirect.group(1)))
        page.wait_for_load_state("load")
    v.errors[:] = [e for e in v.errors if not any(re.search(a, e) for a in ALLOWED_PAGE_ERRORS)]
    return v


# Code, printed output and tables that do not fit the page's width (a markdown table sits in the
# theme's scrolling container): each as its first characters (a reader sees such a block cut
# off, behind a horizontal scroll bar).
OVERFLOWING_BLOCKS = """() => [...document.querySelectorAll('article pre, article div.cell_output div.output, article table, '
                                    + 'article div.pst-scrollable-table-container')]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.scrollWidth}px in ${e.clientWidth}px: ` + e.textContent.trim().slice(0, 60))"""


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


@pytest.mark.parametrize("path", PAGES)
def test_page_works_offline(site, path):
    v = visit(site, path)
    page = v.page
    shown = unquote(urlparse(page.url).path.lstrip("/")) or "index.html"
    html = (SITE / shown).read_text()

    n_plotly = html.count('class="plotly-graph-div"')
    if n_plotly:
        page.wait_for_function(
            "() => [...document.querySelectorAll('div.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
            timeout=30_000,
        )
    assert "application/vnd.jupyter.widget" not in html, "no widget that cannot work without a kernel"
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
    if "math notranslate" in html:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container").count() > 0, "MathJax did not typeset"
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"

    overflowing = page.evaluate(OVERFLOWING_BLOCKS)

    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    broken = []
    for href in hrefs:
        url = urlparse(urljoin(f"http://site/{shown}", href))
        if url.scheme not in ("http", "https") or url.netloc != "site":
            continue
        target = SITE / unquote(url.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
        elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _ids(target.read_text()):
            broken.append(href)

    page.screenshot(path=str(SHOTS / (path.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
    page.close()
    assert v.outside_requests == [], f"requests to other hosts: {v.outside_requests}"
    assert v.bad_responses == [], f"failed requests: {v.bad_responses}"
    assert v.errors == [], f"page errors: {v.errors}"
    assert broken == [], f"broken internal links: {broken}"
    assert overflowing == [], f"code or output wider than the page (readers must scroll to see it): {overflowing}"


def _chapter(site, path: str = "book/03_superposition.html"):
    if not (SITE / path).exists():
        _unavailable(f"{path} was not built")
    return visit(site, path).page


def test_slider_figure_changes_the_model_without_a_kernel(site):
    """On the chapter page, moving a plotly slider shows another precomputed model."""
    page = _chapter(site)
    page.wait_for_function("() => [...document.querySelectorAll('div.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))", timeout=30_000)
    sliders = page.locator("div.plotly-graph-div:has(g.slider-container)")
    assert sliders.count() >= 1, "the chapter offers a slider figure"
    fig = sliders.first
    read = "gd => [gd.layout.sliders[0].active, gd.data.map(t => Array.from(t.x))]"
    active_before, data_before = fig.evaluate(read)
    rail = fig.locator("rect.slider-rail-rect").bounding_box()
    fig.locator("rect.slider-rail-rect").scroll_into_view_if_needed()
    rail = fig.locator("rect.slider-rail-rect").bounding_box()
    page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
    page.wait_for_timeout(500)
    active_after, data_after = fig.evaluate(read)
    page.close()
    assert active_before == 0 and active_after > 0, (active_before, active_after)
    assert data_after != data_before, "the figure shows a different model after the slider moved"


GEOMETRY_PAGE = "book/06_geometry.html"
SCENES = "div.plotly-graph-div div.gl-container canvas"  # one canvas per plotly 3-D scene
MIN_DRAWN_SHARE = 0.005  # of a scene's pixels: a polytope covers 15-30 %, two bare lines 1.3 %, a blank scene 0
WEBGL = "() => { const c = document.createElement('canvas'); return !!(c.getContext('webgl2') || c.getContext('webgl')) }"


def drawn_share(png: bytes) -> float:
    """The share of a screenshot's pixels that differ from its background (its most common
    colour) by more than a faint tint (12 of 255 in some channel)."""
    import io

    import numpy as np
    from matplotlib.image import imread

    pixels = np.round(imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(int).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    return float((np.abs(pixels - colours[counts.argmax()]).max(1) > 12).mean())


def scene_shares(page, *, timeout_ms: int = 15_000) -> list[float]:
    """Each plotly 3-D scene on ``page``, scrolled to the middle of the window and screenshotted
    until it shows a drawing (``MIN_DRAWN_SHARE``) or ``timeout_ms`` passes: the share of its
    pixels drawn."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
        timeout=30_000,
    )
    shares = []
    for canvas in page.locator(SCENES).all():
        canvas.evaluate("c => c.scrollIntoView({block: 'center'})")  # clear of the theme's sticky header
        deadline, share = time.monotonic() + timeout_ms / 1000, 0.0
        while share < MIN_DRAWN_SHARE and time.monotonic() < deadline:
            page.wait_for_timeout(200)  # WebGL draws after plotly's layout, in animation frames
            share = drawn_share(canvas.screenshot())
        shares.append(share)
    return shares


def test_3d_scenes_are_drawn(site):
    """Every plotly 3-D scene of the geometry chapter (its polytopes) is drawn by the browser's
    WebGL, offline: a real share of each scene's pixels differs from the background."""
    if not (SITE / GEOMETRY_PAGE).exists():
        _unavailable(f"{GEOMETRY_PAGE} was not built")
    v = visit(site, GEOMETRY_PAGE)
    webgl = v.page.evaluate(WEBGL)
    shares = scene_shares(v.page) if webgl else []
    v.page.close()
    assert webgl, f"{CHROMIUM} gives pages no WebGL: the 3-D scenes cannot be drawn"
    assert shares, f"{GEOMETRY_PAGE} has no plotly 3-D scene ({SCENES})"
    blank = {k: round(s, 4) for k, s in enumerate(shares) if s < MIN_DRAWN_SHARE}
    assert not blank, f"3-D scenes left blank (share of pixels drawn, need {MIN_DRAWN_SHARE}): {blank} of {len(shares)}"
    assert v.outside_requests == [] and v.errors == [], (v.outside_requests, v.errors)


EXPLORER_PAGES = [p for p in PAGES if 'class="superpos-explorer"' in (SITE / p).read_text()] if SITE.exists() else []


@pytest.mark.parametrize("path", EXPLORER_PAGES or ["book/03_superposition.html"])
def test_explorers_show_their_figure_and_the_way_to_the_live_version(site, path):
    """A static page cannot retrain anything: it shows the explorer's default figure, no dead
    controls, and a link that opens this chapter in Colab, where the controls work."""
    if not EXPLORER_PAGES:
        _unavailable("no page shows an explorer")
    config = (ROOT / "_config.yml").read_text()
    repo = re.search(r"^\s*url:\s*https://github.com/(\S+)", config, re.M).group(1)
    branch = re.search(r"^\s*branch:\s*(\S+)", config, re.M).group(1)
    page = _chapter(site, path)
    figure = page.locator("figure.superpos-explorer").first
    figure.scroll_into_view_if_needed()
    size = figure.locator("img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    href = figure.locator("a.superpos-live").get_attribute("href")
    controls = page.locator("input[type=range], .widget-slider, .jupyter-widgets").count()
    page.close()
    assert size[0] > 400 and size[1] > 100, size
    notebook = path.removesuffix(".html") + ".ipynb"
    assert href == f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}", href
    assert controls == 0, "no control that moves without changing anything"


BROWSER_PAGE = "book/11_monosemanticity.html"


def test_feature_browser_searches_and_shows_contexts_without_a_kernel(site):
    """The chapter's feature browser works on the static page: a latent's card shows its top
    contexts with the firing character marked, the search box filters the list, clicking a unit
    opens its card, and the neurons are a button away."""
    page = _chapter(site, BROWSER_PAGE)
    browser = page.locator("div.spb").first
    browser.scroll_into_view_if_needed()
    count = browser.locator(".spb-count")
    first = count.inner_text()
    contexts = browser.locator(".spb-card .spb-ctx")
    marked = browser.locator(".spb-card .spb-ctx b")
    n_ctx, n_marked = contexts.count(), marked.count()
    browser.locator(".spb-q").fill("just after the word")
    after = count.inner_text()
    items = browser.locator(".spb-list li")
    rules = [items.nth(i).inner_text() for i in range(items.count())]
    items.nth(min(1, items.count() - 1)).click()
    title = browser.locator(".spb-card .spb-title").inner_text()
    browser.locator(".spb-q").fill("")
    browser.locator(".spb-kinds button", has_text="MLP neurons").click()
    neurons = count.inner_text()
    neuron_title = browser.locator(".spb-card .spb-title").inner_text()
    page.close()
    assert first.startswith("100 of 100 SAE latents"), first
    assert n_ctx >= 8 and n_marked >= 8, (n_ctx, n_marked)  # top contexts, each with its character marked
    assert 0 < int(after.split()[0]) < 100, after
    assert rules and all("just after the word" in r for r in rules), rules[:3]
    assert title.startswith("latent ") and title.split()[1] in rules[min(1, len(rules) - 1)], (title, rules[:2])
    assert neurons.startswith("50 of 50 MLP neurons") and neuron_title.startswith("neuron "), (neurons, neuron_title)
