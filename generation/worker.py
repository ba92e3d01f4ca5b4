"""The RQ worker class used by `manage.py rqworker` (filled by the background issue)."""

from rq.worker import Worker


class GenerationWorker(Worker):
    pass
