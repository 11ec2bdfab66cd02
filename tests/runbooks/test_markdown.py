import re

import pytest

from incidents.markdown import render_markdown

DANGEROUS_URL = re.compile(r"(href|src|action|data)\s*=\s*[\"']?\s*(javascript|vbscript|data):")

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "[click](javascript:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    '![x](javascript:alert(1) "t")',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<body onload="alert(1)">',
    '<div hx-get="/logout" hx-trigger="load">x</div>',
    '<div data-hx-post="/admin/" hx-trigger="load">x</div>',
    '<button hx-post="/runbooks/1/review/" hx-trigger="load">go</button>',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<details open ontoggle="alert(1)"><summary>x</summary></details>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<a href="vbscript:msgbox(1)">x</a>',
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    '<a href=" javascript:alert(1)">x</a>',
    "<IMG SRC=`javascript:alert(1)`>",
    '<input autofocus onfocus="alert(1)">',
    '<base href="javascript:alert(1)//">',
]


@pytest.mark.parametrize("attack", XSS_CORPUS)
def test_sanitiser_removes_script_handlers_htmx_and_dangerous_urls(attack):
    html = str(render_markdown(attack)).lower()
    assert "<script" not in html
    # Dangerous schemes may survive as harmless text, never as a URL attribute.
    assert not DANGEROUS_URL.search(html)
    for forbidden in (
        "onerror",
        "onload",
        "onfocus",
        "ontoggle",
        "hx-",
        "style=",
        "<iframe",
        "<object",
        "<embed",
        "<meta",
        "<link",
        "<base",
        "<form",
        "<svg",
        "<style",
    ):
        assert forbidden not in html


def test_markdown_keeps_ordinary_formatting_and_safe_links():
    html = str(
        render_markdown(
            "# Restart\n\n1. **Drain** the pool\n2. Run `kubectl rollout restart`\n\n"
            "[Dashboard](https://grafana.example/d/1) | x\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        )
    )
    assert "<h1>Restart</h1>" in html
    assert "<strong>Drain</strong>" in html
    assert "<code>kubectl rollout restart</code>" in html
    assert 'href="https://grafana.example/d/1"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<table>" in html


def test_empty_markdown_renders_nothing():
    assert str(render_markdown("")) == ""
