"""The browser tests' world: a fake Bot API, the real Telegram bot and the dashboard it serves, on a loop of their own.

Selenium's calls block, so the bot, the dashboard (uvicorn, in-process on a free port) and the fake Bot API run on
an event loop in a background thread; a test drives them with `stack.run(coroutine)` and the browser directly.
The embedded default: SQLite in the session's DATA_DIR and the in-process chain, one process, one engine.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.telegram_mode import TelegramBot, start
from bot.web_mode import dashboard_server
from tests.e2e.telegram.conftest import MEMBER, OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import Call, FakeBotApi, Person
from tests.fixtures.browser import browser, chromium, screenshots  # noqa: F401 - fixtures for this folder

T = TypeVar("T")
APPROVER = Person(5201, "Ada", "ada_approves")
ADMIN = Person(5301, "Ari", "ari_admin")
LINK = re.compile(r"https?://[^\s\"'<>]+/login\?token=[A-Za-z0-9_.\-]+")
__all__ = ["ADMIN", "APPROVER", "MEMBER", "OPERATOR", "Stack"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    loop: asyncio.AbstractEventLoop
    data_dir: Path
    api: FakeBotApi = field(init=False)
    tg: TelegramBot = field(init=False)
    web: Any = field(init=False)  # bot.web_mode's server
    url: str = ""
    started: list[Any] = field(default_factory=list)  # what stop() stops, newest first

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def start(self) -> None:
        self.api = await FakeBotApi(token="7016:dashboard-bot-token-fff").start()
        self.started.append(self.api)
        self.api.started.update({OPERATOR.id, MEMBER.id, APPROVER.id, ADMIN.id})
        port = free_port()
        settings = bot_settings(self.api, self.data_dir, approvers=f"telegram:{APPROVER.id}",
                                admins=f"telegram:{ADMIN.id}", approval_threshold="CRO=50", approvals_required=1,
                                web_port=port,
                                bulk_chunk_size=100)  # a batch settles in several transactions: progress in steps
        self.tg = await start(settings, poll_timeout=1.0)
        self.started.append(self.tg)
        self.web = dashboard_server(self.tg.core, settings, signals=False)
        await self.web.start()
        self.started.append(self.web)
        self.url = f"http://127.0.0.1:{self.web.port}"

    async def stop(self) -> None:
        while self.started:
            await self.started.pop().stop()

    def say(self, person: Person, text: str, timeout: float = 30) -> Call:
        """What the bot answers `person` in their DM."""
        return self.run(self.api.ask(person, person.dm, text, timeout))

    def sign_in_link(self, person: Person) -> str:
        """/dashboard in the person's DM, and the link the bot then sends them there."""
        before = len(self.api.calls)
        self.run(self.api.say(person, person.dm, "/dashboard"))
        dm = self.run(self.api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == person.id
                                        and "/login?token=" in c.text, after=before))
        found = LINK.search(dm.text)
        assert found, dm.text
        return found.group(0).replace("&amp;", "&")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="dashboard-stack", daemon=True)
    thread.start()
    world = Stack(loop, tmp_path_factory.mktemp("web"))
    try:
        world.run(world.start(), timeout=120)
        yield world
    finally:
        try:
            world.run(world.stop(), timeout=60)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
