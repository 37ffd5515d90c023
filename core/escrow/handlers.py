"""The chat commands of escrowed intents: /pay by a member (or with a price condition), /deposit, /release."""

from __future__ import annotations

from core.commands import Pay
from core.errors import NotAllowed
from core.replies import Reply
from core.services import Services


async def open_intent(s: Services, cmd: Pay) -> Reply:
    raise NotAllowed("Only operators may spend the treasury. Ask an operator of this bot to send the payment.")
