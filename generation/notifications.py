"""Old dotted paths of the mail jobs on the `email` queue (before 2026-12).

Mail jobs already in Redis name `generation.notifications.send_*`; the functions now live
in `generation.operations.notifications`. Delete this module once the `email` queue and
its failed registry hold no job made before the move (a mail job is retried for minutes,
its failure kept for RQ's failure TTL).
"""

from generation.operations.notifications import send_admins_mail, send_post_ready_mail

__all__ = ["send_admins_mail", "send_post_ready_mail"]
