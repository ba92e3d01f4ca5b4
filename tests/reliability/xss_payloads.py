"""Hostile strings for the browser XSS suite. Each calls `__xss(n)` (or `alert(n)`) with its
own number when it runs, so a hit names the payload that got through."""

from __future__ import annotations

# Text payloads: titles, excerpts, names, Markdown bodies, error messages.
TEXT = [
    "<script>__xss({n})</script>",
    "<ScRiPt>__xss({n})</sCrIpT>",
    "<img src=x onerror=__xss({n})>",
    "<img src=x oNeRrOr=alert({n})>",
    '"><img src=x onerror=__xss({n})>',
    "'><svg onload=__xss({n})>",
    "</title><script>__xss({n})</script>",
    "</textarea><script>__xss({n})</script>",
    "</script><script>__xss({n})</script>",
    "<svg><script>__xss({n})</script></svg>",
    "<svg/onload=__xss({n})>",
    '<svg><a xlink:href="javascript:__xss({n})"><text>svg link</text></a></svg>',
    '<math><a href="javascript:__xss({n})">math link</a></math>',
    "<math><mtext><table><mglyph><style><img src=x onerror=__xss({n})>",
    '<noscript><p title="</noscript><img src=x onerror=__xss({n})>">',
    '<iframe src="javascript:__xss({n})"></iframe>',
    '<iframe srcdoc="<script>parent.__xss({n})</script>"></iframe>',
    '<object data="javascript:__xss({n})"></object><embed src="javascript:__xss({n})">',
    "<details open ontoggle=__xss({n})>x</details>",
    "<input autofocus onfocus=__xss({n})>",
    '<div style="background:url(javascript:__xss({n}))">styled</div>',
    '<p style="width:expression(__xss({n}))">expr</p>',
    "<style>@import 'javascript:__xss({n})'; b {{ background:url(javascript:__xss({n})) }}</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:__xss({n})">',
    '<a href="jav&#x09;ascript:__xss({n})">tab link</a>',
    '<a href="javascript&colon;__xss({n})">colon link</a>',
    '<form><button formaction="javascript:__xss({n})">go</button></form>',
    "[md link](javascript:__xss({n}))",
    "![md image](javascript:__xss({n}))",
    "[tab link](jav&#x09;ascript:__xss({n}))",
    "[case link](JaVaScRiPt:__xss({n}))",
    "[data link](data:text/html,<script>__xss({n})</script>)",
    "[vb link](vbscript:__xss({n}))",
    "<javascript:__xss({n})>",
    '[title break](https://ok.test "\\" onmouseover=\\"__xss({n})")',
    "&lt;script&gt;__xss({n})&lt;/script&gt;",
    "&#60;img src=x onerror=__xss({n})&#62;",
    "{{{{ __xss({n}) }}}} {{% debug %}} {{{{constructor.constructor('__xss({n})')()}}}}",
    "<img src=x onerror=\\u005f\\u005fxss({n})>",
    "\uff1cscript\uff1e__xss({n})\uff1c/script\uff1e \u202e<b onclick=__xss({n})>rtl</b>",
    '<a href="#" onclick="__xss({n})">click</a><x onmouseover=__xss({n})>hover</x>',
]

# URL payloads: a source's address (PostSource.url, ResearchSource.url).
URLS = [
    "javascript:__xss({n})",
    "JAVASCRIPT:__xss({n})",
    " javascript:__xss({n})",
    "jav\tascript:__xss({n})",
    "data:text/html,<script>__xss({n})</script>",
    "vbscript:__xss({n})",
    'https://ok.test/"><script>__xss({n})</script>',
    "https://ok.test/?q=<img src=x onerror=__xss({n})>",
]


def numbered(templates: list[str], first: int) -> dict[int, str]:
    """The payloads numbered from `first`, each calling `__xss` with its own number."""
    return {first + i: template.format(n=first + i) for i, template in enumerate(templates)}
