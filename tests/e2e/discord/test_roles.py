"""/role (a user option and a role choice), /roles and /audit through the real discord.py against the fake Discord."""

from __future__ import annotations

from tests.e2e.discord.conftest import ADMIN, ALICE, OPERATOR
from tests.e2e.discord.fake_discord import FakeDiscord, user

RITA = (700000000000000031, "rita")  # given a role here only


def role_interaction(fake: FakeDiscord, who: tuple[int, str], target: tuple[int, str], role: str) -> dict:
    """/role as the Discord client sends it: the user option carries an id, resolved in `data.resolved`."""
    interaction = fake.slash("role", {"role": role}, who)
    data = interaction["data"]
    data["options"].insert(0, {"name": "user", "type": 6, "value": str(target[0])})
    member = {k: v for k, v in fake.member(*target).items() if k != "user"}
    data["resolved"] = {"users": {str(target[0]): user(*target)}, "members": {str(target[0]): member}}
    return interaction


async def test_role_and_roles_slash_commands(fake, discord_bot):
    synced = await fake.wait_for(lambda e: e.kind == "sync" and e.payload["guild"] == fake.guild_id)
    assert {"role", "roles", "audit"} <= set(synced.payload["names"])
    role_command = next(c for c in fake.commands[fake.guild_id] if c["name"] == "role")
    options = {o["name"]: o for o in role_command["options"]}
    assert options["user"]["type"] == 6 and [c["value"] for c in options["role"]["choices"]] == [
        "member", "operator", "approver", "admin"]

    refused = await fake.answer(await fake.send(role_interaction(fake, ALICE, RITA, "operator")))
    assert "Only an admin can change roles; you are a member." in refused.content
    given = await fake.answer(await fake.send(role_interaction(fake, ADMIN, RITA, "approver")))
    assert f"discord:{RITA[0]} is now an approver (was a member)" in given.content, given.content
    alert = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == ADMIN[0] and "role changed" in e.content)
    assert f"discord:{ADMIN[0]} made discord:{RITA[0]} an approver" in alert.content

    listing = await fake.answer(await fake.send(fake.slash("roles", {}, OPERATOR)))
    assert listing.ephemeral, listing.content
    assert f"approver: `discord:{RITA[0]}`" in listing.content and f"admin: `discord:{ADMIN[0]}`" in listing.content
    members_see_nothing = await fake.answer(await fake.send(fake.slash("roles", {}, ALICE)))
    assert members_see_nothing.ephemeral and "you are a member" in members_see_nothing.content

    audit = await fake.answer(await fake.send(fake.slash("audit", {"n": 3}, ADMIN)))
    assert audit.ephemeral and f"discord:{ADMIN[0]} (admin) /role ok" in audit.content
