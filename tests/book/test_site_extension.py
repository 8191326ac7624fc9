"""The book's build machinery, the local Sphinx extension ``_ext/superpos_site`` (no network: fakes only)."""

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_ext"))
import superpos_site as book_build  # noqa: E402
from superpos_site import plotly_static  # noqa: E402

from superpos_lib import superposition  # noqa: E402


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _tarball(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


FILES = {"package/dist/app.js": b"app()", "package/dist/font.woff2": b"font", "package/src/app.ts": b"src",
         "package/LICENSE": b"MIT"}
DATA = _tarball(FILES)
PACKAGE = book_build.NpmPackage("@scope/demo", "1.2.3", _integrity(DATA), "demo", ("LICENSE", "dist/*.js", "dist/*.woff2"))


def test_every_pinned_package_names_an_exact_version_and_sha512():
    for p in book_build.NPM_PACKAGES:
        assert p.integrity.startswith("sha512-") and p.version.count(".") == 2
        assert p.tarball_url.startswith("https://registry.npmjs.org/") and p.tarball_url.endswith(f"-{p.version}.tgz")
    assert PACKAGE.tarball_url == "https://registry.npmjs.org/@scope/demo/-/demo-1.2.3.tgz"


def test_verify_integrity():
    assert book_build.verify_integrity(DATA, PACKAGE.integrity)
    assert not book_build.verify_integrity(DATA + b"x", PACKAGE.integrity)
    with pytest.raises(ValueError, match="integrity"):
        book_build.verify_integrity(DATA, "sha1-abc")


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetch_downloads_once_then_uses_the_cache(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(book_build.urllib.request, "urlopen", lambda url, timeout: calls.append(url) or _Response(DATA))
    path = book_build.fetch_tarball(PACKAGE, tmp_path)
    assert path.read_bytes() == DATA and calls == [PACKAGE.tarball_url]
    book_build.fetch_tarball(PACKAGE, tmp_path)
    assert len(calls) == 1, "the cached tarball is reused"


def test_fetch_rejects_a_tampered_download_and_explains_a_failed_one(tmp_path, monkeypatch):
    monkeypatch.setattr(book_build.urllib.request, "urlopen", lambda url, timeout: _Response(DATA + b"!"))
    with pytest.raises(RuntimeError, match="integrity"):
        book_build.fetch_tarball(PACKAGE, tmp_path)

    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(book_build.urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="npm registry.*cache"):
        book_build.fetch_tarball(PACKAGE, tmp_path / "empty")


def test_extract_takes_only_the_served_files(tmp_path):
    src = tmp_path / "demo.tgz"
    src.write_bytes(DATA)
    written = book_build.extract(PACKAGE, src, tmp_path / "out")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert names == ["demo/LICENSE", "demo/dist/app.js", "demo/dist/font.woff2"]
    missing = book_build.NpmPackage("x", "1.0.0", PACKAGE.integrity, "x", ("dist/*.css",))
    with pytest.raises(RuntimeError, match="no files matching"):
        book_build.extract(missing, src, tmp_path / "out2")


def test_extract_refuses_paths_outside_its_folder(tmp_path):
    evil = tmp_path / "evil.tgz"
    evil.write_bytes(_tarball({"package/../../escape.js": b"x"}))
    pkg = book_build.NpmPackage("e", "1.0.0", "sha512-x", "e", ("*",))
    with pytest.raises(RuntimeError, match="refusing"):
        book_build.extract(pkg, evil, tmp_path / "out")
    assert not (tmp_path / "escape.js").exists()


def test_prepare_vendor_folder(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-1.2.3.tgz").write_bytes(DATA)
    monkeypatch.setattr(book_build, "NPM_PACKAGES", (PACKAGE,))
    root = book_build.prepare_vendor_folder(tmp_path / "static", cache)
    vendor = root / "_vendor"
    assert (vendor / "demo" / "dist" / "app.js").read_bytes() == b"app()"
    assert (vendor / "plotly" / "plotly.min.js").stat().st_size > 1_000_000
    (vendor / "demo" / "dist" / "app.js").write_bytes(b"edited")
    book_build.prepare_vendor_folder(tmp_path / "static", cache)
    assert (vendor / "demo" / "dist" / "app.js").read_bytes() == b"edited", "up to date: left alone"


class _Script(str):
    def __new__(cls, name, **attributes):
        obj = super().__new__(cls, name)
        obj.attributes = attributes
        return obj


THEME = {"repository_url": "https://github.com/superpos-book/superpos", "repository_branch": "main",
         "path_to_docs": "", "launch_buttons": {"colab_url": "https://colab.research.google.com"}}


def test_sphinx_hooks(tmp_path, monkeypatch):
    config = SimpleNamespace(mathjax_path="https://cdn.example/mathjax.js", nb_ipywidgets_js={"https://cdn/x.js": {}},
                             nb_mime_priority_overrides=[("latex", "image/png", 1)])
    book_build._configure(None, config)
    assert config.mathjax_path == book_build.MATHJAX_JS and "://" not in config.mathjax_path
    assert config.nb_ipywidgets_js == {}, "no widget manager: the site offers no controls without a kernel"
    assert ("html", book_build.WIDGET_VIEW, None) in config.nb_mime_priority_overrides
    assert ("latex", "image/png", 1) in config.nb_mime_priority_overrides

    added = []
    app = SimpleNamespace(add_js_file=lambda path, **kw: added.append((path, kw)),
                          config=SimpleNamespace(html_theme_options=THEME))
    book_build._page(app, "p", "page.html", {"body": "<p>no figures</p>"}, None)
    assert added == []
    book_build._page(app, "p", "page.html", {"body": '<div class="plotly-graph-div">'}, None)
    assert added == [(book_build.PLOTLY_JS, {"priority": 100})]

    context = {"body": f"<p>{book_build.LIVE_LINK}open</a></p>",
               "script_files": [_Script("a.js"), _Script("", type=book_build.WIDGET_STATE)]}
    book_build._page(app, "book/03_superposition", "page.html", context, None)
    url = "https://colab.research.google.com/github/superpos-book/superpos/blob/main/book/03_superposition.ipynb"
    assert f'href="{url}"' in context["body"], "the explorer's live link opens its chapter in Colab"
    assert context["script_files"] == ["a.js"], "no saved widget state on the page"
    launch = {"type": "group", "label": "launch-buttons", "buttons": []}
    for source, kept in [("book/teaching/exercises.md.txt", []), ("book/03_superposition.ipynb.txt", [launch])]:
        context = {"body": "", "sourcename": source, "header_buttons": [launch]}
        book_build._page(app, "p", "page.html", context, None)
        assert context["header_buttons"] == kept, f"Colab and Binder open notebooks only: {source}"

    latex = SimpleNamespace(builder=SimpleNamespace(format="latex"), outdir=str(tmp_path), config=SimpleNamespace(html_static_path=[]))
    book_build._vendor(latex)
    assert latex.config.html_static_path == [], "nothing to vendor for other builders"
    monkeypatch.setattr(book_build, "prepare_vendor_folder", lambda root: root)
    html = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path / "html"), config=SimpleNamespace(html_static_path=["_static"]))
    book_build._vendor(html)
    assert html.config.html_static_path == ["_static", str(tmp_path / "superpos_static")]


def test_colab_url_follows_the_repository_settings():
    config = SimpleNamespace(html_theme_options={**THEME, "path_to_docs": "docs/", "repository_branch": "dev"})
    assert book_build.colab_url(config, "book/01_features") == (
        "https://colab.research.google.com/github/superpos-book/superpos/blob/dev/docs/book/01_features.ipynb")
    assert book_build.colab_url(SimpleNamespace(html_theme_options={}), "x") is None


def test_setup_prepares_the_kernels(tmp_path, monkeypatch):
    connected = []
    app = SimpleNamespace(connect=lambda event, fn, priority=500: connected.append(event), outdir=str(tmp_path / "html"))
    for name in [*book_build.BUILD_ENVIRONMENT, "IPYTHONDIR"]:
        monkeypatch.delenv(name, raising=False)
    meta = book_build.setup(app)
    assert os.environ["SUPERPOS_PROGRESS"] == "0", "no progress bars frozen into pages"
    assert os.environ["IPYTHONDIR"] == str(tmp_path / "superpos_ipython")
    assert (tmp_path / "superpos_ipython" / "profile_default" / "startup" / book_build.STARTUP_FILE).exists()
    assert connected == ["config-inited", "builder-inited", "html-page-context"] and meta["parallel_read_safe"]


def test_the_kernel_startup_file_switches_plotly_to_the_static_renderer(tmp_path):
    startup = book_build.kernel_profile(tmp_path) / "profile_default" / "startup" / book_build.STARTUP_FILE
    script = (startup.read_text() + "\nimport plotly.io as pio, plotly.graph_objects as go\n"
              "fig = go.Figure(go.Bar(y=[1, 2]))\n"
              "bundle = pio.renderers[pio.renderers.default].to_mimebundle(fig.to_dict())\n"
              "print(pio.renderers.default, list(bundle), 'plotly-graph-div' in bundle['text/html'])\n"
              "print(sorted(k for k in globals() if not k.startswith('__')))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    first, names = run.stdout.strip().splitlines()
    assert first == "superpos_static ['text/html'] True"
    assert "_superpos_static_plotly" not in names, "the startup file leaves nothing in the reader's namespace"


def test_plotly_div_is_stable_and_self_contained():
    fig = superposition.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
    html = plotly_static.plotly_div(fig)
    assert html == plotly_static.plotly_div(fig), "same figure, same bytes"
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "cdn" not in html.lower() and len(html) < 200_000, "plotly.js is not inlined or fetched"
    assert "addFrames" in html and "Plotly.animate" not in html, "frames wait for the reader"
    other = superposition.plot_features_sweep(torch.randn(2, 2, 3), ["x", "y"])
    assert plotly_static.plotly_div(other).split('id="')[1][:20] != html.split('id="')[1][:20]


def test_the_library_does_not_ship_the_build_machinery():
    import superpos_lib

    lib = Path(superpos_lib.__file__).parent
    text = "\n".join(p.read_text() for p in lib.rglob("*.py"))
    for word in ("import sphinx", "from sphinx", "renderers.default", "SUPERPOS_BOOK_BUILD", "IPYTHONDIR"):
        assert word not in text, f"{word!r} belongs to _ext/superpos_site, not to the library"
