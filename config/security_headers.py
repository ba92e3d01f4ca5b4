"""The Content-Security-Policy middleware: django-csp's, with the admin's allowances.

Every page gets CONTENT_SECURITY_POLICY: no inline script anywhere. The admin (and the
django-rq dashboard inside and beside it) also gets:

- inline styles (`style-src 'unsafe-inline'`): Django's change list and django-rq's pages
  carry `<style>` blocks and style attributes; styles cannot run code;
- the hashes of django-rq's inline scripts (one "select all" snippet per page), read from
  its installed templates, so the exact snippets run and nothing else inline does.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIXES = ("/admin/", "/django-rq/")
RQ_PREFIXES = ("/django-rq/", "/admin/django_rq/")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


@cache
def django_rq_script_hashes() -> tuple[str, ...]:
    """CSP sources (`'sha256-…'`) of the inline scripts in django-rq's templates."""
    import django_rq

    folder = Path(django_rq.__file__).parent / "templates" / "django_rq"
    bodies = {
        match.group(1)
        for template in folder.glob("*.html")
        for match in _INLINE_SCRIPT.finditer(template.read_text(encoding="utf-8"))
        if "{%" not in match.group(1) and "{{" not in match.group(1)
    }
    return tuple(sorted(_source_hash(body) for body in bodies))


def _source_hash(body: str) -> str:
    digest = hashlib.sha256(body.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


class SiteCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        path = request.path_info
        if path.startswith(ADMIN_PREFIXES):
            extra: dict[str, list[str]] = {"style-src": ["'unsafe-inline'"]}
            if path.startswith(RQ_PREFIXES):
                extra["script-src"] = list(django_rq_script_hashes())
            parts.update = {**extra, **(parts.update or {})}
        return parts
