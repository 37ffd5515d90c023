"""Slash commands, buttons, autocomplete and attachments through a fake gateway, answered by the real discord.py client."""

from __future__ import annotations

import copy
import re
import time

from tests.e2e.discord.conftest import ADMIN, ALICE, MALLORY, OPERATOR, TREASURER

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = re.compile(r"0x[0-9a-f]{64}")


async def ask(fake, name, options=None, who=OPERATOR, **kw):
    iid = await fake.send(fake.slash(name, options or {}, who, **kw))
    return await fake.answer(iid)


async def test_commands_are_synced_to_the_guild_within_30s_of_ready(fake, discord_bot):
    sync = await fake.wait_for(lambda e: e.kind == "sync")
    assert sync.payload["guild"] == fake.guild_id
    assert sync.at - fake.ready_at < 30
    commands = {c["name"]: c for c in fake.commands[fake.guild_id]}
    assert {"pay", "bulk", "help", "status", "confirm", "cancel", "history", "link", "wallet"} <= set(commands)
    pay = {o["name"]: o for o in commands["pay"]["options"]}
    assert pay["recipient"]["type"] == 3 and pay["amount"]["type"] == 3  # text, never a number
    assert "CRO" in [c["value"] for c in pay["token"]["choices"]]
    bulk = {o["name"]: o for o in commands["bulk"]["options"]}
    assert bulk["file"]["type"] == 11  # an attachment
    assert {o["name"]: o for o in commands["status"]["options"]}["id"]["autocomplete"] is True
    assert discord_bot.client.application_id == discord_bot.client.user.id == fake.bot_id


async def test_help_is_answered_directly(fake, discord_bot):
    answer = await ask(fake, "help", who=ALICE)
    assert answer.kind == "callback" and answer.payload["type"] == 4
    assert "/pay" in answer.content and "/bulk" in answer.content
    assert answer.payload["data"]["allowed_mentions"] == {"parse": []}


async def test_operator_pays_and_the_full_tx_hash_appears(fake, discord_bot):
    answer = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.5", "token": "CRO"})
    assert TX.search(answer.content), answer.content
    assert "0.5 CRO" in answer.content and "confirmed" in answer.content
    history = await ask(fake, "history", {"n": 5})
    assert TX.search(answer.content).group(0) in history.content


async def test_role_operator_pays_and_a_member_opens_an_intent_instead(fake, discord_bot):
    paid = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.25"}, who=TREASURER, operator=True)
    assert TX.search(paid.content), paid.content
    member = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.25"}, who=ALICE)
    assert "Intent int-" in member.content and "Payment pay-" not in member.content  # funded from their wallet, not the treasury
    in_dm = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.25"}, who=TREASURER, dm=True)
    assert "Intent int-" in in_dm.content  # a role counts where the role is seen (its guild): in a DM they are a member


async def test_bad_amount_and_bad_address_get_different_replies_naming_their_field(fake, discord_bot):
    amount = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "1e18"})
    address = await ask(fake, "pay", {"recipient": "0x1234", "amount": "1"})
    token = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "1", "token": "DOGE"})
    assert "amount:" in amount.content and "address:" not in amount.content.split("Usage")[0]
    assert "address:" in address.content
    assert "token:" in token.content
    spaced = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "1 000", "token": "CRO"})
    assert spaced.content.startswith("amount:"), spaced.content
    assert amount.content != address.content


async def test_everyone_in_user_text_never_pings(fake, discord_bot):
    answer = await ask(fake, "pay", {"recipient": "@everyone", "amount": "1"})
    assert answer.payload["data"]["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in answer.content  # escaped as well: @\u200beveryone
    markdown = await ask(fake, "status", {"id": "**bold**"})
    assert "**bold**" not in markdown.content


async def test_a_redelivered_interaction_acts_once(fake, discord_bot):
    interaction = fake.slash("pay", {"recipient": ADDRESS, "amount": "0.125"}, OPERATOR)
    iid = await fake.send(interaction)
    first = await fake.answer(iid)
    await fake.send(interaction)
    # The event to wait for, not a guessed pause: an interaction sent after the copy is answered. The gateway
    # delivers in order and /history goes through the engine as the copy would, so a copy that was not dropped
    # would have answered by then.
    history = await ask(fake, "history", {"n": 50})
    assert len(fake.of(iid, "callback")) == 1
    assert len(fake.of(iid)) == 1
    assert history.content.count("0.125 CRO") == 1
    assert TX.search(first.content)


async def test_confirm_buttons_only_the_asker_or_an_operator_can_press_once(fake, discord_bot):
    ask_big = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "150"}, who=TREASURER, operator=True)
    assert "Confirm" in ask_big.content and not TX.search(ask_big.content)
    confirm = next(c for c in ask_big.custom_ids if "/confirm" in c)
    cancel = next(c for c in ask_big.custom_ids if "/cancel" in c)
    message = copy.deepcopy(ask_big.message)  # as two clients saw it before either press landed

    stranger = await fake.send(fake.press(message, confirm, MALLORY))
    refusal = await fake.answer(stranger)
    assert refusal.ephemeral and "Only the person who asked" in refusal.content

    first = await fake.send(fake.press(message, confirm, TREASURER, operator=True))
    second = await fake.send(fake.press(message, confirm, TREASURER, operator=True))
    paid = await fake.wait_for(lambda e: e.interaction_id == first and e.kind == "followup")
    again = await fake.wait_for(lambda e: e.interaction_id == second and e.kind == "followup")
    hashes = {m.group(0) for m in TX.finditer(paid.content + again.content)}
    assert len(hashes) == 1, (paid.content, again.content)
    history = await ask(fake, "history", {"n": 50}, who=TREASURER, operator=True)
    assert history.content.count("150 CRO") == 1  # the second press got the first press's answer
    edit = fake.of(first, "callback")[0]
    assert edit.payload["type"] == 7 and not edit.payload["data"].get("components")  # the buttons are gone

    late = await fake.send(fake.press(message, cancel, TREASURER, operator=True))
    too_late = await fake.wait_for(lambda e: e.interaction_id == late and e.kind == "followup")
    assert "cannot be cancelled" in too_late.content


async def test_buttons_expire_cleanly(fake, discord_bot):
    frontend = discord_bot.frontend
    frontend.button_ttl = 0.3
    try:
        answer = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "101"})
    finally:
        frontend.button_ttl = 600.0
    before, buttons = copy.deepcopy(answer.message), answer.custom_ids
    assert buttons
    expired = await fake.wait_for(lambda e: e.kind == "edit" and e.interaction_id == answer.interaction_id, timeout=10)
    assert not expired.payload.get("components")
    # A press on the buttons as they were (say the removal was lost in a restart) is refused politely.
    iid = await fake.send(fake.press(before, buttons[0], OPERATOR))
    note = await fake.wait_for(lambda e: e.interaction_id == iid and e.kind == "followup")
    assert note.ephemeral and "expired" in note.content and "/confirm pay-" in note.content


async def test_a_press_whose_message_comes_without_its_buttons_is_still_answered(fake, discord_bot):
    asked = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "120"})
    cancel = next(c for c in asked.custom_ids if "/cancel" in c)
    partial = {k: v for k, v in copy.deepcopy(asked.message).items() if k != "components"}
    iid = await fake.send(fake.press(partial, cancel, OPERATOR))
    done = await fake.wait_for(lambda e: e.interaction_id == iid and e.kind == "followup")
    assert "Cancelled" in done.content
    assert len(fake.of(iid, "callback")) == 1  # handled once, not by two routes


async def test_autocomplete_offers_your_own_payment_ids(fake, discord_bot):
    paid = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.3"})
    pay_id = re.search(r"pay-[a-z0-9]{8}", paid.content).group(0)
    iid = await fake.send(fake.slash("status", {"id": pay_id[:6]}, OPERATOR, focused="id"))
    choices = await fake.answer(iid)
    assert choices.payload["type"] == 8
    assert pay_id in [c["value"] for c in choices.payload["data"]["choices"]]
    theirs = await fake.answer(await fake.send(fake.slash("status", {"id": ""}, MALLORY, focused="id")))
    assert theirs.payload["data"]["choices"] == []
    status = await ask(fake, "status", {"id": pay_id})
    assert pay_id in status.content and TX.search(status.content)


async def test_link_challenge_arrives_only_privately(fake, discord_bot):
    answer = await ask(fake, "link", {"address": ADDRESS}, who=ALICE)
    assert answer.ephemeral and "Nonce" in answer.content
    wallet = await ask(fake, "wallet", who=ALICE)
    assert wallet.ephemeral


async def test_bulk_attachment_preview_execute_and_completion(fake, discord_bot):
    second = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"
    csv = f"recipient,amount\n{ADDRESS},1.5\n{second},2.000001\n".encode()
    preview = await ask(fake, "bulk", {}, attachment=("payouts.csv", csv))
    assert "Recipients: 2" in preview.content and "3.500001 CRO" in preview.content, preview.content
    execute = next(c for c in preview.custom_ids if "/bulk execute" in c)
    stranger = await fake.answer(await fake.send(fake.press(preview.message, execute, ALICE)))
    assert "Only the person who asked" in stranger.content
    iid = await fake.send(fake.press(preview.message, execute, OPERATOR))
    started = await fake.wait_for(lambda e: e.interaction_id == iid and e.kind == "followup")
    assert "Executing bulk payout" in started.content
    batch = re.search(r"bulk-[a-z0-9]{8}", started.content).group(0)
    done = await fake.wait_for(lambda e: e.kind == "dm" and f"{batch} finished" in e.content, timeout=60)
    assert done.payload["user_id"] == OPERATOR[0] and "Paid: 2 of 2" in done.content and "3.500001 CRO" in done.content
    (report,) = done.files.values()
    assert len(TX.findall(report.decode())) == 2  # one paid row each, with its tx hash


async def test_bulk_batch_autocomplete_offers_only_your_own_batches_newest_first(fake, discord_bot):
    csv = f"recipient,amount\n{ADDRESS},0.75\n".encode()
    mine = []
    for name in ("first.csv", "second.csv"):
        preview = await ask(fake, "bulk", {}, attachment=(name, csv))
        mine.append(re.search(r"bulk-[a-z0-9]{8}", preview.content).group(0))
    theirs = await ask(fake, "bulk", {}, who=TREASURER, operator=True, attachment=("theirs.csv", csv))
    their_batch = re.search(r"bulk-[a-z0-9]{8}", theirs.content).group(0)

    iid = await fake.send(fake.slash("bulk", {"action": "status", "batch": ""}, OPERATOR, focused="batch"))
    choices = (await fake.answer(iid)).payload["data"]["choices"]
    values = [c["value"] for c in choices]
    assert values.index(mine[1]) < values.index(mine[0]) and their_batch not in values  # an operator too: own only
    assert "second.csv" in choices[values.index(mine[1])]["name"] and "0.75 CRO" in choices[0]["name"]
    typed = await fake.answer(await fake.send(fake.slash("bulk", {"action": "cancel", "batch": mine[0][5:9]}, OPERATOR, focused="batch")))
    assert [c["value"] for c in typed.payload["data"]["choices"]] == [mine[0]]
    stranger = await fake.answer(await fake.send(fake.slash("bulk", {"batch": ""}, MALLORY, focused="batch")))
    assert stranger.payload["data"]["choices"] == []
    status = await ask(fake, "bulk", {"action": "status", "batch": mine[0]})
    assert mine[0] in status.content


NOTE = "snowrail-cro-0.1-25-0x" + "ab12" * 31
PASTER = (700000000000000009, "paula")  # a member of the guild only: other tests wait for DMs to theirs


async def test_a_note_pasted_in_a_channel_is_deleted_and_its_author_warned_by_dm(fake, discord_bot, caplog):
    caplog.set_level("DEBUG", logger="snowrail")
    mid = await fake.post(f"here is my note {NOTE} for safekeeping", PASTER)
    deleted = await fake.wait_for(lambda e: e.kind == "message_delete" and int(e.message["id"]) == mid)
    assert deleted.path == f"/api/v10/channels/{fake.channel_id}/messages/{mid}"
    warning = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == PASTER[0] and "mixer note" in e.content)
    assert "I deleted it" in warning.content and "exposed" in warning.content and "/withdraw" in warning.content
    assert "ab12ab12" not in warning.content and warning.payload["allowed_mentions"] == {"parse": []}
    assert all("ab12ab12" not in r.getMessage() for r in caplog.records)


async def test_a_key_that_cannot_be_deleted_is_still_warned_about(fake, discord_bot):
    fake.may_delete = False
    try:
        mid = await fake.post(f"private key: 0x{'5e' * 32}", PASTER)
        warning = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == PASTER[0] and "private key" in e.content)
    finally:
        fake.may_delete = True
    assert "could not delete it" in warning.content and "Manage Messages" in warning.content
    assert "Move your funds" in warning.content and "5e5e5e" not in warning.content
    assert not [e for e in fake.events if e.kind == "message_delete" and int(e.message["id"]) == mid]


async def test_a_note_edited_into_a_message_is_deleted_too(fake, discord_bot):
    editor = (700000000000000010, "eddie")
    mid = await fake.post("my note is coming", editor)
    await fake.post(f"my note is {NOTE}", editor, edit=mid)
    await fake.wait_for(lambda e: e.kind == "message_delete" and int(e.message["id"]) == mid)
    warning = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == editor[0])
    assert "mixer note" in warning.content and "I deleted it" in warning.content


async def test_ordinary_messages_and_the_bots_own_are_left_alone(fake, discord_bot):
    before = len(fake.events)
    await fake.post(f"paid, see tx 0x{'1f' * 32}", ALICE)  # a tx hash is not a key
    await fake.post(f"bot echo {NOTE}", (fake.bot_id, "snowrail"), bot=True)
    await ask(fake, "help", who=ALICE)  # the gateway has handled both messages by the time this is answered
    # Earlier tests' pasted secrets reach the admin as security alerts meanwhile: only an alert about Alice would count.
    late_alert = lambda e: e.payload.get("user_id") == ADMIN[0] and f"discord:{ALICE[0]}" not in e.content  # noqa: E731
    assert not [e for e in fake.events[before:] if e.kind in ("message_delete", "dm") and not late_alert(e)]


async def test_bulk_file_errors_and_size_limit(fake, discord_bot):
    bad = await ask(fake, "bulk", {}, attachment=("bad.csv", b"recipient,amount\n0x1234,1\n"))
    assert "line 2" in bad.content and not bad.custom_ids
    big = await ask(fake, "bulk", {}, attachment=("big.csv", b"x" * 5_000_001))
    assert "file:" in big.content and "5.0 MB" in big.content


async def test_a_429_on_an_interaction_response_is_retried_after_retry_after(fake, discord_bot):
    fake.limit_next("callback", 0.4)
    started = time.perf_counter()
    answer = await ask(fake, "help", {"command": "pay"}, who=ALICE)
    limited = await fake.wait_for(lambda e: e.kind == "limited" and e.payload["kind"] == "callback")
    assert "/pay" in answer.content
    assert answer.at - limited.at >= 0.35
    assert time.perf_counter() - started < 5


async def test_a_429_without_via_on_a_follow_up_is_retried_too(fake, discord_bot):
    frontend = discord_bot.frontend
    frontend.defer_after = 0.0
    fake.limit_next("followup", 0.3, via=False)
    try:
        iid = await fake.send(fake.slash("help", {}, ALICE))
        answer = await fake.answer(iid)
    finally:
        frontend.defer_after = 1.0
    limited = await fake.wait_for(lambda e: e.kind == "limited" and e.payload["kind"] == "followup")
    assert answer.kind == "followup" and "/pay" in answer.content and answer.at - limited.at >= 0.25


async def test_slow_work_is_deferred_then_followed_up(fake, discord_bot):
    frontend = discord_bot.frontend
    frontend.defer_after = 0.0
    try:
        iid = await fake.send(fake.slash("history", {}, OPERATOR))
        answer = await fake.answer(iid)
        private = await fake.send(fake.slash("link", {"address": ADDRESS}, ALICE))
        challenge = await fake.answer(private)
    finally:
        frontend.defer_after = 1.0
    ack = fake.of(iid, "callback")[0]
    assert ack.payload["type"] == 5 and answer.kind == "followup" and "payment" in answer.content.lower()
    assert fake.of(private, "callback")[0].payload["data"]["flags"] == 64  # a private command defers privately
    assert challenge.ephemeral and "Nonce" in challenge.content


async def test_link_by_signature_then_get_paid_by_mention_and_hear_of_it_by_dm(fake, discord_bot):
    from eth_account import Account
    from eth_account.messages import encode_defunct

    wallet = Account.create()
    challenge = await ask(fake, "link", {"address": wallet.address}, who=MALLORY)
    message = re.search(r"```\n(.*?)\n```", challenge.content, re.S).group(1)
    signature = Account.sign_message(encode_defunct(text=message), wallet.key).signature.hex()
    linked = await ask(fake, "link", {"signature": "0x" + signature.removeprefix("0x")}, who=MALLORY)
    assert "Linked" in linked.content and linked.ephemeral
    asked = await ask(fake, "pay", {"recipient": f"<@{MALLORY[0]}>", "amount": "0.2"})
    # A person named by mention: the address and identity are shown, and nothing moves before Confirm (H4).
    assert wallet.address in asked.content and f"(discord:{MALLORY[0]})" in asked.content and not TX.search(asked.content)
    confirm = next(c for c in asked.custom_ids if "/confirm" in c)
    pressed = await fake.send(fake.press(copy.deepcopy(asked.message), confirm, OPERATOR))
    paid = await fake.wait_for(lambda e: e.interaction_id == pressed and e.kind == "followup")
    tx = TX.search(paid.content).group(0)
    assert wallet.address in paid.content
    dm = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == MALLORY[0])
    assert "0.2 CRO" in dm.content and tx in dm.content
