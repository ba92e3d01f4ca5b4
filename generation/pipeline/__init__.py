"""The research-and-writing pipeline: one module per stage, run by `runner.execute_run`.

Owns the stages (`topic`, `research`, `outline`, `sections`, `verify`, `metadata`), the
checkpoints between them (`checkpoints`, `store`, `types`), the LLM client (`llm`), the
prompts, the evidence behind citations (`evidence/`) and publishing the post
(`publishing`, through `blog.services`).

May import: `generation.research`, `generation.runs` (the lifecycle, leases, progress,
usage), `generation.operations`, the foundation and `blog`. Never the execution half,
scheduling or the admin: only the execution door (`generation.execution.service`) runs it.
"""
