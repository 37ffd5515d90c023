"""The chat commands of schedules: /pay … at|every …, /schedules, /schedule pause|resume|cancel|skip."""

from __future__ import annotations

from core.commands import Pay
from core.replies import Reply
from core.services import Services


async def schedule_pay(s: Services, cmd: Pay) -> Reply:
    return Reply.error("Scheduled payments are not available yet.")
