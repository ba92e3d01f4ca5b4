"""Scheduling: recurring requests for posts (`GenerationSchedule`) and the periodic jobs.

Owns the tick that turns due occurrences into runs and the schedule writes (`service`),
reads of schedules (`selectors`) and the periodic jobs registered with rq-scheduler
(`periodic`). Cron parsing is pure and lives in the foundation (`generation.cron`), since
the models' validators need it.

May import: `generation.execution`, `generation.runs`, `generation.operations`, the
foundation. Never `generation.admin` or the commands.
"""
