"""Operations: watch and tell. Reads of Redis and the runs table, and the messages sent.

Owns the daily budget (`budget`), LLM usage and cost accounting (`usage`), cost
estimates (`estimates`), the queues' live state (`monitoring`), the health checks
(`health`), Prometheus metrics (`metrics`), alerts and the mails and webhooks they send
(`alerts`, `notifications`, `webhooks`), pause and resume (`pause`), worker births
(`worker_births`), the overview page's figures (`overview`) and the probe endpoints
(`endpoints`: /healthz, /readyz, /metrics).

Operations never changes a run: that is why both halves (and everything above them) may
call it. May import: the generation foundation and `blog`. Never `generation.runs` or
anything above it; operator writes (retry, cancel, flush, restart) live in
`generation.execution.operator`.
"""
