"""Execution: the half that runs runs. RQ jobs, the worker, the reaper, operator writes.

Owns the job entry point and its callbacks (`jobs`), the execution door (`service`:
`run_generation`, and `generate_posts` for the synchronous command), the RQ worker class
(`worker`), the reaper of lost runs (`reaper`), operator writes on runs and jobs
(`operator`) and the sync of runs with jobs changed on the django-rq dashboard (`jobsync`).

May import: `generation.pipeline` (its runner and stages, with the `openai` SDK, only
inside the execution door, on first use, so importing this package stays cheap; retry reads
`pipeline.checkpoints`, which loads no SDK), `generation.runs`, `generation.operations`,
`generation.research`, the foundation and `blog`. Never scheduling, admin or commands.
"""
