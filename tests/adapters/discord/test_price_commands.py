"""/alert, /alerts and /price as Discord slash commands: typed options turned into the chat text the core parses."""

from adapters.discord import commands
from adapters.discord.frontend import DiscordFrontend
from tests.adapters.discord.fakes import FakeEngine, FakeInteraction


async def test_the_price_commands_become_the_text_they_stand_for():
    engine = FakeEngine()
    built = {c.name: c for c in commands.build(DiscordFrontend(engine), ["CRO"])}
    alert = {p.name: p for p in built["alert"].parameters}
    assert [c.value for c in alert["side"].choices] == ["above", "below"]
    await built["alert"].callback(FakeInteraction(), pair="CRO", side="above", price="0.12")
    await built["alert"].callback(FakeInteraction(), cancel="alert-abcdefgh")
    await built["alerts"].callback(FakeInteraction())
    await built["price"].callback(FakeInteraction(), pair="CRO")
    await built["price"].callback(FakeInteraction(), pair="CRO", to="0.13")
    assert [text for text, _, _ in engine.calls] == ["/alert CRO above 0.12", "/alert cancel alert-abcdefgh", "/alerts",
                                                      "/price CRO", "/price CRO 0.13"]
