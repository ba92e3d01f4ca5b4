"""RQ jobs: fetch the run by id and call the service, nothing else."""

from __future__ import annotations

from rq import get_current_job

from generation import service


def generate_post(run_id: int) -> int | None:
    """Generate the post of run `run_id`; returns the post id."""
    job = get_current_job()
    worker_name = (job.worker_name or "") if job else ""
    run = service.run_generation(run_id, worker_name=worker_name)
    return run.post_id


def on_success(job, connection, result, *args, **kwargs) -> None:
    pass


def on_failure(job, connection, exc_type, exc_value, traceback) -> None:
    pass


def on_stopped(job, connection) -> None:
    pass
