"""Plotly figures as static HTML on the book's pages (the book build only).

In a kernel, plotly's default renderer emits ``application/vnd.plotly.v1+json``, which Jupyter
Book skips: the figure would be missing from the page. Its ``notebook`` renderer inlines
4.8 MB of plotly.js into every page, and ``notebook_connected`` loads it from a CDN, which is
blank offline. This renderer emits a ``<div>`` and a script that draw the figure with the
plotly.js the site serves itself.

The build installs it in every chapter's kernel through an IPython startup file (see
``superpos_site.kernel_profile``); Colab, Jupyter and the tests never see it, and the library's
figure builders never switch renderers.
"""

from __future__ import annotations

import hashlib

RENDERER = "superpos_static"


def plotly_div(fig) -> str:
    """A figure as an HTML ``<div>`` and script that draw it with a plotly.js already on the page.

    No plotly.js and no MathJax are inlined (the site serves plotly.js once), figures with
    frames wait for the reader instead of playing on load, and the div's id is a hash of the
    figure, so the same figure always gives the same bytes.
    """
    import plotly.io as pio

    as_json = pio.to_json(fig, validate=False, pretty=False)
    div_id = "plotly-" + hashlib.sha1(as_json.encode()).hexdigest()[:12]
    return pio.to_html(
        fig, include_plotlyjs=False, include_mathjax=False, full_html=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True}, validate=False,
        auto_play=False,  # figures with frames would otherwise play through them on load
    )


def install() -> None:
    """Register the renderer and make it the default (called once, in a build kernel's startup)."""
    import plotly.io as pio
    from plotly.io.base_renderers import MimetypeRenderer

    class StaticSiteRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            return {"text/html": plotly_div(fig_dict)}

    if RENDERER not in pio.renderers:
        pio.renderers[RENDERER] = StaticSiteRenderer()
    pio.renderers.default = RENDERER
