"""The admin: model admins (runs, schedules), actions, forms, the staff views, the guard on
django-rq's dashboard, and the "Generate ..." actions added to the blog's own admins.

Importing this package (Django's admin autodiscovery does) registers everything. It is a
door: it parses, checks permissions and calls a service; a refused request is a message
(`generation.runs.refusals`), never a 500.

May import everything below it: scheduling, execution, runs, operations, the foundation
and `blog`. Nothing imports it but the URLconf and Django's autodiscovery.
"""

from __future__ import annotations

from generation.admin import actions, runs, schedules  # noqa: F401  (registers the admins)

actions.blog_admins_extend()
