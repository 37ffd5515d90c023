"""What both chat adapters share, in core: the 429 loop (core.delivery) and the pasted-secret guard (core.guard)."""

from __future__ import annotations

import pytest

from core.delivery import RetryAfter, patiently
from core.guard import Removal, guard
from core.replies import Reply


class Throttled:
    """A send the platform refuses `refusals` times, each asking to wait `seconds`."""

    def __init__(self, refusals: int, seconds: float = 0.5) -> None:
        self.refusals, self.seconds, self.calls = refusals, seconds, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.refusals:
            raise RetryAfter(self.seconds)
        return "sent"


async def test_a_429_is_waited_out_then_retried():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    send = Throttled(2)
    assert await patiently(send, attempts=3, sleep=sleep) == "sent"
    assert send.calls == 3 and slept == [0.5, 0.5]


async def test_a_long_wait_or_the_last_refusal_is_handed_back():
    async def sleep(seconds: float) -> None:
        raise AssertionError("never slept through")

    with pytest.raises(RetryAfter) as long_wait:
        await patiently(Throttled(1, seconds=45.0), longest=10.0, sleep=sleep)
    assert long_wait.value.seconds == 45.0

    async def no_wait(seconds: float) -> None:
        pass

    always = Throttled(5)
    with pytest.raises(RetryAfter):
        await patiently(always, attempts=3, sleep=no_wait)
    assert always.calls == 3


class Pasted:
    """core.guard.PublicMessage as an adapter would hand it over; records what the guard did."""

    right_to_delete = "the right to delete"

    def __init__(self, text: str, removal: Removal = Removal.DELETED, *, edited: bool = False) -> None:
        self.text, self.place, self.edited, self.removal = text, "the group “Team”", edited, removal
        self.deleted, self.warnings = False, list[Reply]()

    async def delete(self) -> Removal:
        self.deleted = True
        return self.removal

    async def warn_author(self, warning: Reply) -> None:
        self.warnings.append(warning)


async def test_a_pasted_secret_is_deleted_and_its_author_warned_without_repeating_it():
    note = "snowrail-cro-0.1-25-0x" + "ab12" * 31
    message = Pasted(f"my note {note}", edited=True)
    assert await guard(message) and message.deleted
    (warning,) = message.warnings
    text = warning.plain()
    assert "edited a message into what looks like a mixer note in the group “Team”" in text and "I deleted it" in text
    assert "/withdraw" in text and "ab12ab12" not in text and warning.kind == "error"

    refused = Pasted("a" * 64, Removal.REFUSED)
    assert await guard(refused)
    assert "could not delete it (I need the right to delete there)" in refused.warnings[0].plain()
    assert "Move your funds" in refused.warnings[0].plain()


async def test_an_ordinary_message_is_left_alone():
    message = Pasted("paid, see tx 0x" + "1f" * 32)
    assert not await guard(message) and not message.deleted and not message.warnings


async def test_the_engine_answers_what_chat_front_ends_ask():
    from core.commands import Actor
    from core.engine import Engine
    from core.replies import Press
    from core.services import Policy
    from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

    operator, alice = Actor("telegram", "1", "Olga"), Actor("telegram", "5", "Alice")
    engine = Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), queue=RecordingQueue(),
                    policy=Policy(operators=frozenset({operator.ref})))  # fmt: skip
    alices_button = Press(alice.user_id, "/confirm pay-abcdefgh")
    assert engine.may_press(alice, alices_button) and engine.may_press(operator, alices_button)
    assert engine.may_press(Actor("discord", "2", operator=True), alices_button)  # a Discord role vouches
    assert not engine.may_press(Actor("telegram", "6"), alices_button)

    paid = await engine.handle_text("/pay 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed 1", actor=operator, key="k1")
    ((payment_id, label),) = await engine.own_payments(operator, 25)
    assert payment_id in paid.plain() and label.startswith(f"{payment_id} · 1 CRO · ")
    assert await engine.own_payments(alice, 25) == [] and await engine.own_batches(operator, 25) == []
