"""`/schedule pause|resume|cancel|skip <name>`: a template, payee or @handle naming one of the caller's schedules."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from core.parsing import parse
from core.schedules.model import ScheduleStatus
from tests.unit.test_schedules import ADA, ADDR, BOB, OLGA, OTTO, World

OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
BOB_WALLET = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


@pytest.fixture
def w() -> World:
    return World()


def status(w: World, sid: str) -> ScheduleStatus:
    return w.db.store.schedules[sid].status


async def test_a_payee_name_cancels_the_one_schedule_paying_that_payee(w):
    assert (await w.say(f"/payee add alice {ADDR}", ADA)).kind == "ok"
    alice = await w.schedule("/pay alice 1 USDC every friday")
    other = await w.schedule(f"/pay {OTHER} 1 USDC every friday")
    reply = await w.say("/schedule cancel Alice")
    assert reply.plain().startswith(f"Cancelled {alice}"), reply.plain()
    assert status(w, alice) is ScheduleStatus.CANCELLED and status(w, other) is ScheduleStatus.ACTIVE
    gone = await w.say("/schedule pause alice")  # a cancelled schedule is no longer a live one
    assert gone.kind == "error" and "no schedule alice of yours was found" in gone.plain()


async def test_a_name_matching_two_schedules_is_refused_with_both_ids_and_changes_nothing(w):
    await w.say(f"/payee add alice {ADDR}", ADA)
    by_name = await w.schedule("/pay alice 1 USDC every friday")
    by_address = await w.schedule(f"/pay {ADDR} 2 USDC every monday")  # the same payee, typed as its address
    reply = await w.say("/schedule pause alice")
    assert reply.kind == "error" and "alice names 2 of your schedules" in reply.plain()
    assert by_name in reply.plain() and by_address in reply.plain() and "give the id of one" in reply.plain()
    assert {status(w, by_name), status(w, by_address)} == {ScheduleStatus.ACTIVE}


async def test_a_template_name_skips_the_next_run_of_that_templates_schedule(w):
    upload = await w.engine.bulk_upload(OLGA, "up-1", "payroll.csv", f"{ADDR},5,USDC\n{OTHER},1,USDC\n".encode())
    batch = next(b.command.split()[-1] for b in upload.buttons if b.command.startswith("/bulk execute"))
    assert (await w.say(f"/bulk save {batch} as payroll")).kind == "ok"
    payroll = await w.schedule("/bulk run payroll every month on the 25th at 09:00")
    await w.schedule(f"/pay {ADDR} 1 USDC every friday")  # pays a payroll address, but is not the template's
    reply = await w.say("/schedule skip payroll")
    assert reply.plain().startswith(f"Skipping the run of {payroll}"), reply.plain()
    assert w.db.store.schedules[payroll].skip_next


async def test_cancel_my_payroll_schedule_in_plain_words_previews_then_cancels_it_on_confirm(w):
    upload = await w.engine.bulk_upload(OLGA, "up-1", "payroll.csv", f"{ADDR},5,USDC\n".encode())
    batch = next(b.command.split()[-1] for b in upload.buttons if b.command.startswith("/bulk execute"))
    await w.say(f"/bulk save {batch} as payroll")
    payroll = await w.schedule("/bulk run payroll every month on the 25th at 09:00")
    preview = await w.say("cancel my payroll schedule")
    assert "/schedule cancel payroll" in preview.plain() and status(w, payroll) is ScheduleStatus.ACTIVE
    confirm = next(b.command for b in preview.buttons if b.label == "Confirm")
    assert (await w.say(confirm)).plain().startswith(f"Cancelled {payroll}")
    assert status(w, payroll) is ScheduleStatus.CANCELLED


async def test_a_handle_with_or_without_its_at_names_the_schedule_paying_that_person(w):
    await w.say(f"/link {BOB_WALLET}", BOB)
    assert "Linked" in (await w.say("/link 0x" + "11" * 45 + BOB_WALLET[2:].lower(), BOB)).plain()
    bob = await w.schedule("/pay @bob 1 USDC every friday")
    await w.schedule(f"/pay {OTHER} 1 USDC every friday")
    assert (await w.say("/schedule pause @Bob")).plain().startswith(f"Paused {bob}")
    assert (await w.say("/schedule resume bob")).plain().startswith(f"Resumed {bob}")
    assert status(w, bob) is ScheduleStatus.ACTIVE


async def test_a_name_finds_only_the_callers_own_schedules_even_for_an_admin(w):
    await w.say(f"/payee add alice {ADDR}", ADA)
    sid = await w.schedule("/pay alice 1 USDC every friday")
    for who in (OTTO, ADA):
        reply = await w.say("/schedule cancel alice", who)
        assert reply.kind == "error" and "no schedule alice of yours was found" in reply.plain()
    assert status(w, sid) is ScheduleStatus.ACTIVE
    assert (await w.say(f"/schedule pause {sid}", ADA)).plain().startswith(f"Paused {sid}")  # by id, an admin may


@pytest.mark.parametrize("word", ["b*b", "0xabc", "12", "@", "@b-b"])
def test_a_word_that_is_neither_an_id_nor_a_name_is_a_usage_error(word):
    with pytest.raises(UsageError) as e:
        parse(f"/schedule cancel {word}", actor=OLGA, key="k")
    assert e.value.field == "id" and "neither a schedule id (sch-…) nor a name" in str(e.value)
