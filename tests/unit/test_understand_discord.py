"""Discord's plain-text route: DMs and messages mentioning the bot reach the engine's preview; others do not."""

from __future__ import annotations

from types import SimpleNamespace

from adapters.discord.frontend import DiscordFrontend
from core.engine import Engine
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

ME = SimpleNamespace(id=990)
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class Channel:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def send(self, text: str, **kw) -> None:
        self.sent.append((text, kw))


def message(content: str, *, guild: int | None = None, mentions=(), bot: bool = False, mid: int = 1):
    author = SimpleNamespace(id=5, bot=bot, name="olga", global_name=None, display_name="Olga")
    return SimpleNamespace(author=author, webhook_id=None, guild=SimpleNamespace(id=guild) if guild else None,
                           mentions=list(mentions), content=content, id=mid, channel=Channel())


def frontend() -> DiscordFrontend:
    engine = Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), queue=RecordingQueue(),
                    policy=Policy(operators=frozenset({"discord:5"})))
    return DiscordFrontend(engine, guild_ids=(77,))


async def test_a_dm_is_previewed_with_confirm_and_cancel() -> None:
    dm = message(f"send 2 cro to {ADDR}")
    assert await frontend().plain_text(dm, ME)
    ((text, kw),) = dm.channel.sent
    assert f"/pay {ADDR} 2 CRO" in text
    labels = [c.item.label for c in kw["view"].children]
    assert labels == ["Confirm", "Cancel"]


async def test_a_server_message_needs_a_mention_of_the_bot() -> None:
    fe = frontend()
    plain = message(f"send 2 cro to {ADDR}", guild=77, mid=2)
    assert not await fe.plain_text(plain, ME) and not plain.channel.sent
    mention = message(f"<@990> send 2 cro to {ADDR}", guild=77, mentions=[ME], mid=3)
    assert await fe.plain_text(mention, ME)
    assert f"/pay {ADDR} 2 CRO" in mention.channel.sent[0][0]
    elsewhere = message(f"<@990> send 2 cro to {ADDR}", guild=78, mentions=[ME], mid=4)  # not a configured server
    robot = message("send 2 cro to @bob", bot=True, mid=5)
    assert not await fe.plain_text(elsewhere, ME) and not await fe.plain_text(robot, ME)
