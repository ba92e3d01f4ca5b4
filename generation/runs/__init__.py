"""Runs: the enqueue half. A request for posts becomes runs and their jobs.

Owns the request types (`request`), the enqueue door (`service.enqueue_posts`), the
selection doors (`selection`), every transition of a run (`lifecycle`), the run lease
(`leases`), reads of runs (`selectors`), progress events, titles and
the log context of a run.

May import: the generation foundation (`models`, `exceptions`, `validators`, `cron`,
`queues`, `rq_private`), `generation.operations` (budget, alerts, metrics) and `blog`.
Never `generation.pipeline`, `generation.research` or the execution half: the web
process and the commands load this package without the `openai` SDK or trafilatura.
"""
