"""The book's build machinery: a local Sphinx extension that makes the static site self-contained.

Declared in ``_config.yml`` (``sphinx: local_extensions``); it is not part of ``superpos_lib``,
so nothing of it is installed in Colab. A plain ``jupyter-book build .`` gets all of this, with
nothing for the user to remember:

* **Kernels that draw for a page.** Chapters execute in kernels started from the build's
  environment. The extension points ``IPYTHONDIR`` at a profile of its own whose startup file
  installs the static plotly renderer (:mod:`superpos_site.plotly_static`), and sets
  ``SUPERPOS_PROGRESS=0`` (:data:`superpos_lib.runtime.PROGRESS_ENV`) to keep progress bars off
  the page. Colab, Jupyter and the tests never see either.
* **No CDN.** MathJax is downloaded from the npm registry at a pinned version, checked against
  the registry's sha512 ``integrity``, cached in ``~/.cache/superpos/npm`` and served from
  ``_static/_vendor/``; ``plotly.min.js`` is copied from the installed plotly package, and loaded
  only on pages that draw plotly figures. Nothing on a page loads from another host.
* **No dead controls.** An explorer's sliders retrain a model, which needs a kernel; a static
  page has none. So the site never renders ipywidgets (their mime type gets no priority, their
  saved state and scripts are left out) and shows each explorer's own static fallback instead:
  its figure at the default setting and a link to the live version, which this extension points
  at the page's chapter in Colab. Kernel-free interactivity comes from plotly sliders over
  precomputed sweeps.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from superpos_lib.runtime import PROGRESS_ENV

HERE = Path(__file__).resolve().parent
BUILD_ENVIRONMENT = {PROGRESS_ENV: "0"}
STARTUP_FILE = "00-superpos-static-plotly.py"
VENDOR_URL_PREFIX = "_vendor"  # served at _static/_vendor/
PLOTLY_JS = f"{VENDOR_URL_PREFIX}/plotly/plotly.min.js"
MATHJAX_JS = f"{VENDOR_URL_PREFIX}/mathjax/es5/tex-mml-chtml.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LIVE_LINK = '<a class="superpos-live" href="#">'  # what superpos_lib.ui.Explorer's static fallback writes


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package and the files of it the site serves.

    Attributes:
        name: npm name.
        version: exact version.
        integrity: the registry's ``dist.integrity`` (``sha512-<base64>``).
        folder: where its files go under ``_static/_vendor/``.
        files: glob patterns, relative to the package root, of the files to serve.
    """

    name: str
    version: str
    integrity: str
    folder: str
    files: tuple[str, ...]

    @property
    def tarball_url(self) -> str:
        base = self.name.split("/")[-1]
        return f"https://registry.npmjs.org/{self.name}/-/{base}-{self.version}.tgz"


NPM_PACKAGES = (
    NpmPackage(
        "mathjax", "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "mathjax",
        # the combined component, and everything it may load lazily (fonts, autoloaded TeX
        # extensions, the menu and its accessibility tools)
        ("LICENSE", "es5/tex-mml-chtml.js", "es5/output/chtml/*", "es5/input/tex/extensions/*",
         "es5/ui/*", "es5/a11y/*", "es5/sre/*", "es5/adaptors/*"),
    ),
)


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "superpos" / "npm"


def verify_integrity(data: bytes, integrity: str) -> bool:
    """Check bytes against an npm ``sha512-<base64>`` integrity string."""
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise ValueError(f"integrity must be a sha512 integrity string, got {integrity!r}")
    return base64.b64encode(hashlib.sha512(data).digest()).decode() == expected


def fetch_tarball(package: NpmPackage, cache: Path | None = None) -> Path:
    """The package's tarball, from the cache or the npm registry, checked against its integrity."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{package.folder}-{package.version}.tgz"
    if path.exists() and verify_integrity(path.read_bytes(), package.integrity):
        return path
    try:
        with urllib.request.urlopen(package.tarball_url, timeout=120) as response:
            data = response.read()
    except OSError as err:
        raise RuntimeError(
            f"Could not download {package.name}@{package.version} from the npm registry "
            f"({package.tarball_url}): {err}. The book's pages serve it themselves so that they "
            f"work offline; connect once to fill the cache in {cache}."
        ) from err
    if not verify_integrity(data, package.integrity):
        raise RuntimeError(f"{package.tarball_url} does not match its pinned sha512 integrity")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def extract(package: NpmPackage, tarball: Path, dest: Path) -> list[Path]:
    """Extract the package's served files into ``dest/<folder>``; returns the files written."""
    out_root = (dest / package.folder).resolve()
    written = []
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            rel = member.name.split("/", 1)[1] if "/" in member.name else member.name  # drop "package/"
            if not any(fnmatch.fnmatch(rel, pattern) for pattern in package.files):
                continue
            target = (out_root / rel).resolve()
            if out_root not in target.parents:
                raise RuntimeError(f"refusing to extract {member.name!r} outside {out_root}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(target)
    missing = [p for p in package.files if not any(fnmatch.fnmatch(str(w.relative_to(out_root)), p) for w in written)]
    if missing:
        raise RuntimeError(f"{package.name}@{package.version} has no files matching {missing}")
    return written


def prepare_vendor_folder(static_root: Path, cache: Path | None = None) -> Path:
    """Fill ``static_root/_vendor`` with every vendored file; returns ``static_root``."""
    import plotly

    vendor = static_root / VENDOR_URL_PREFIX
    stamp = vendor / ".versions"
    wanted = "\n".join(f"{p.name}@{p.version}" for p in NPM_PACKAGES) + f"\nplotly@{plotly.__version__}\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return static_root
    if vendor.exists():
        shutil.rmtree(vendor)
    for package in NPM_PACKAGES:
        extract(package, fetch_tarball(package, cache), vendor)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    (vendor / "plotly").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js, vendor / "plotly" / "plotly.min.js")
    stamp.write_text(wanted)
    return static_root


def kernel_profile(root: Path) -> Path:
    """An IPython directory under ``root`` whose default profile's startup file installs the
    static plotly renderer; returns the directory (what ``IPYTHONDIR`` should point at)."""
    startup = root / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    renderer = HERE / "plotly_static.py"
    (startup / STARTUP_FILE).write_text(
        "# Generated by superpos_site: plotly figures as static HTML for the book's pages.\n"
        "def _superpos_static_plotly():\n"
        "    import importlib.util\n"
        f"    spec = importlib.util.spec_from_file_location('superpos_plotly_static', {str(renderer)!r})\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    module.install()\n"
        "_superpos_static_plotly()\n"
        "del _superpos_static_plotly\n"
    )
    return root


def _configure(app, config) -> None:
    """config-inited: MathJax from the vendored copy; no widgets on the site (see the module docstring)."""
    config.mathjax_path = MATHJAX_JS
    config.nb_ipywidgets_js = {}
    config.nb_mime_priority_overrides = [*config.nb_mime_priority_overrides, ("html", WIDGET_VIEW, None)]


def _vendor(app) -> None:
    """builder-inited: put the vendored files where the HTML builder copies static files from."""
    if getattr(app.builder, "format", None) != "html":
        return
    static_root = Path(app.outdir).parent / "superpos_static"
    prepare_vendor_folder(static_root)
    app.config.html_static_path = list(app.config.html_static_path) + [str(static_root)]


def colab_url(config, pagename: str) -> str | None:
    """The Colab URL of a chapter's notebook, from the book's repository settings (``None`` if unset)."""
    theme = config.html_theme_options or {}
    repository, branch = theme.get("repository_url"), theme.get("repository_branch") or "main"
    colab = (theme.get("launch_buttons") or {}).get("colab_url") or "https://colab.research.google.com"
    if not repository or "github.com/" not in repository:
        return None
    path = "/".join(p for p in (theme.get("path_to_docs") or "").strip("/").split("/") + [f"{pagename}.ipynb"] if p)
    return f"{colab.rstrip('/')}/github/{repository.split('github.com/', 1)[1].strip('/')}/blob/{branch}/{path}"


def _page(app, pagename, templatename, context, doctree) -> None:
    """html-page-context: plotly.js where figures need it; no widget state; live links to Colab."""
    body = context.get("body", "")
    if "plotly-graph-div" in body:
        app.add_js_file(PLOTLY_JS, priority=100)
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [js for js in scripts if getattr(js, "attributes", {}).get("type") != WIDGET_STATE]
    url = colab_url(app.config, pagename)
    if LIVE_LINK in body and url:
        context["body"] = body.replace(LIVE_LINK, f'<a class="superpos-live" href="{url}">')
    if str(context.get("sourcename", "")).removesuffix(".txt").endswith(".md"):
        # a MyST page the build executes for itself (the instructor's exercise page): Colab and
        # Binder open notebooks only, so no launch button for it
        buttons = context.get("header_buttons") or []
        context["header_buttons"] = [b for b in buttons if b.get("label") != "launch-buttons"]


def setup(app) -> dict:
    os.environ.update(BUILD_ENVIRONMENT)
    os.environ["IPYTHONDIR"] = str(kernel_profile(Path(app.outdir).parent / "superpos_ipython"))
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _vendor)
    app.connect("html-page-context", _page, priority=900)  # after myst-nb has added its scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "3"}
