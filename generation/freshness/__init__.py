"""Living posts: published posts read their cited sources again and say what changed.

Owns the re-verification of a published post (the job on `content`: each cited source
read again through the research cache with a conditional request, the SSRF guard,
robots.txt and the per-host limits; each source classified; each claim whose passage
changed checked again with the pipeline's citation check), the choice of which posts are
due (`VERIFY_AFTER_DAYS`, `VERIFY_BATCH`), the flag that sends a post to the review queue
as "needs refresh", and the editor's answers: a proposed refresh (the affected sections
rewritten from the fresh sources through the section redo), "still correct", unpublish.

May import execution (the section redo), pipeline (the citation check, the LLM client),
runs, operations (budget, usage, metrics), research (the visit: cache, robots, per-host
slots), the foundation and blog. Imported by scheduling (the periodic tick), admin and the
commands.
"""
