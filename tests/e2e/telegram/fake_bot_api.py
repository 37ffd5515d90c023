"""A fake Telegram Bot API server (aiohttp) for driving the real python-telegram-bot against it."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

TOKEN = "4242:fake-token-for-tests-AAbbCCdd"  # the bot's id is 4242
_RAW = {"text", "caption", "callback_query_id", "parse_mode", "url", "secret_token", "file_id", "filename"}


@dataclass
class Person:
    id: int
    first_name: str
    username: str | None = None

    def as_user(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        return user

    @property
    def dm(self) -> dict:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


def group(chat_id: int = -1001234, title: str = "Payroll") -> dict:
    return {"id": chat_id, "type": "supergroup", "title": title}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    result: Any = None
    status: int = 200
    wall: float = field(default_factory=time.time)  # to compare with timestamps the bot stores

    @property
    def chat_id(self) -> int | None:
        c = self.params.get("chat_id")
        return int(c) if c is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class Failure:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1
    when: Callable[[dict], bool] = lambda params: True


@dataclass
class FakeBotApi:
    token: str = TOKEN
    username: str = "snowrail_test_bot"
    calls: list[Call] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    started: set[int] = field(default_factory=set)  # users who opened a private chat with the bot
    no_delete: set[int] = field(default_factory=set)  # chats where the bot may not delete messages
    failures: list[Failure] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    webhook: dict = field(default_factory=dict)
    latency: float = 0.0  # added to every answer, to look like a real network if wanted

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count] = {}
        self._arrived = asyncio.Condition()
        self._called = asyncio.Condition()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.polls = 0

    # ---------------------------------------------------------------- server
    async def start(self, port: int = 0) -> FakeBotApi:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started just above
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def env(self) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_BASE_URL": self.base_url, "TELEGRAM_FILE_BASE_URL": self.file_url}

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            params.update(await request.json())
            return params
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename:
                    params[part.name] = {"filename": part.filename, "content": bytes(await part.read())}
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            params.update(await request.post())
        return {k: (v if k in _RAW or not isinstance(v, str) else _decode(v)) for k, v in params.items()}

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        call = Call(method, params, time.perf_counter())
        if method != "getUpdates":
            for f in self.failures:
                if f.method == method and f.times > 0 and f.when(params):
                    f.times -= 1
                    call.status = f.status
                    await self._record(call)
                    return _error(f.status, f.description, f.retry_after)
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return _error(404, f"Not Found: method {method} is not faked")
        try:
            result = await handler(params)
        except ApiError as e:
            call.status = e.status
            await self._record(call)
            return _error(e.status, e.description)
        call.result = result
        if method != "getUpdates":
            await self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _record(self, call: Call) -> None:
        async with self._called:
            self.calls.append(call)
            self._called.notify_all()

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        content = self.files.get(request.match_info["path"])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    # ---------------------------------------------------------------- methods
    @property
    def bot_id(self) -> int:
        """A bot's id is the number its token starts with, as on the real Bot API."""
        return int(self.token.split(":", 1)[0])

    def _me(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "SnowRail", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _m_getMe(self, p):
        return self._me()

    async def _m_getUpdates(self, p):
        self.polls += 1
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        allowed = set(p.get("allowed_updates") or ())  # as on the real API: kinds not asked for are dropped
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                self.updates = [u for u in self.updates if u["update_id"] >= offset and (not allowed or _kind(u) in allowed)]
                if self.updates or time.monotonic() >= deadline:
                    return self.updates[:limit]
                try:
                    await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
                except TimeoutError:
                    pass

    async def _m_deleteWebhook(self, p):
        self.webhook = {}
        return True

    async def _m_setWebhook(self, p):
        self.webhook = {"url": p.get("url"), "secret_token": p.get("secret_token")}
        return True

    async def _m_setMyCommands(self, p):
        return True

    async def _m_answerCallbackQuery(self, p):
        return True

    async def _m_deleteMessage(self, p):
        if int(p["chat_id"]) in self.no_delete:
            raise ApiError(400, "Bad Request: message can't be deleted")
        return True

    def _chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "user"}
        return group(chat_id)

    def _check_dm(self, chat_id: int) -> None:
        if chat_id > 0 and chat_id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _message(self, chat_id: int, **extra) -> dict:
        return {"message_id": self.next_message_id(chat_id), "date": int(time.time()), "chat": self._chat(chat_id),
                "from": self._me(), **extra}

    async def _m_sendMessage(self, p):
        chat_id = int(p["chat_id"])
        self._check_dm(chat_id)
        return self._message(chat_id, text=p.get("text", ""))

    async def _m_editMessageText(self, p):
        chat_id = int(p["chat_id"])
        return {"message_id": int(p["message_id"]), "date": int(time.time()), "edit_date": int(time.time()),
                "chat": self._chat(chat_id), "from": self._me(), "text": p.get("text", "")}

    async def _m_sendDocument(self, p):
        chat_id = int(p["chat_id"])
        self._check_dm(chat_id)
        doc = p.get("document")
        name = doc.get("filename", "file") if isinstance(doc, dict) else "file"
        return self._message(chat_id, document={"file_id": f"sent-{len(self.calls)}", "file_unique_id": "u", "file_name": name})

    async def _m_sendPhoto(self, p):
        chat_id = int(p["chat_id"])
        self._check_dm(chat_id)
        photo = p.get("photo")
        content = photo.get("content", b"") if isinstance(photo, dict) else b""
        if not content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):  # what Telegram can decode as a photo
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        size = {"file_id": f"photo-{len(self.calls)}", "file_unique_id": "p", "width": 320, "height": 320}
        return self._message(chat_id, photo=[size])

    async def _m_getFile(self, p):
        file_id = p["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]), "file_path": file_id}

    # ---------------------------------------------------------------- the people's side
    async def push(self, update: dict) -> dict:
        update = {"update_id": next(self._update_ids), **update}
        async with self._arrived:
            self.updates.append(update)
            self._arrived.notify_all()
        return update

    async def redeliver(self, update: dict) -> dict:
        """The same message (chat and message id) delivered again, as after a crash before the offset was
        confirmed. A fresh update id, so the running bot's offset does not filter it out."""
        return await self.push({k: v for k, v in update.items() if k != "update_id"})

    def message_update(self, person: Person, chat: dict, text: str | None = None, **extra) -> dict:
        if chat["type"] == "private":
            self.started.add(person.id)  # writing to the bot in private is starting it
        msg = {"message_id": self.next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": person.as_user(), **extra}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": msg}

    async def say(self, person: Person, chat: dict, text: str) -> dict:
        return await self.push(self.message_update(person, chat, text))

    async def edit(self, person: Person, update: dict, text: str) -> dict:
        """The person edits the message of an earlier update of theirs: an `edited_message` update."""
        msg = {k: v for k, v in update["message"].items() if k not in ("text", "entities")}
        return await self.push({"edited_message": {**msg, "edit_date": int(time.time()), "from": person.as_user(), "text": text}})

    async def upload(self, person: Person, chat: dict, filename: str, content: bytes, caption: str = "/bulk",
                     size: int | None = None) -> dict:
        file_id = f"doc-{len(self.files) + 1}"
        self.files[file_id] = content
        document = {"file_id": file_id, "file_unique_id": file_id, "file_name": filename,
                    "mime_type": "text/csv", "file_size": size if size is not None else len(content)}
        return await self.push(self.message_update(person, chat, None, document=document, caption=caption))

    async def press(self, person: Person, message: Call, label: str) -> dict:
        """Press the button whose label contains `label` on a message the bot sent."""
        button = next(b for b in message.buttons() if label.lower() in b["text"].lower())
        return await self.press_data(person, message, button["callback_data"])

    async def press_data(self, person: Person, message: Call, data: str) -> dict:
        chat_id = message.chat_id
        assert chat_id is not None and isinstance(message.result, dict)
        msg = {**message.result, "chat": self._chat(chat_id) if chat_id > 0 else group(chat_id)}
        query = {"id": f"cq-{next(self._update_ids)}", "from": person.as_user(), "chat_instance": "ci",
                 "message": msg, "data": data}
        return await self.push({"callback_query": query})

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 15.0, after: int = 0) -> Call:
        deadline = time.monotonic() + timeout
        async with self._called:
            while True:
                for call in self.calls[after:]:
                    if predicate(call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching call within {timeout}s; calls: {[(c.method, c.params.get('chat_id')) for c in self.calls[after:]][-20:]}")
                try:
                    await asyncio.wait_for(self._called.wait(), left)
                except TimeoutError:
                    pass

    async def reply_to(self, update: dict, timeout: float = 30.0, after: int = 0) -> Call:
        """The bot's answer to a message: a sendMessage replying to it in the same chat."""
        msg = update["message"]
        chat_id, mid = msg["chat"]["id"], msg["message_id"]
        return await self.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == chat_id and c.status == 200
            and (c.params.get("reply_parameters") or {}).get("message_id") == mid,
            timeout,
            after,
        )

    async def ask(self, person: Person, chat: dict, text: str, timeout: float = 30.0) -> Call:
        return await self.reply_to(await self.say(person, chat, text), timeout)

    def sent_to(self, chat_id: int, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method and c.chat_id == chat_id and c.status == 200]

    def chat_shows(self, chat_id: int) -> list[str]:
        """The bot's text messages in the chat as its user sees them now, oldest first: edits applied, deletions gone.
        Tests assert this outcome rather than the calls that led to it."""
        shown: dict[int, str] = {}
        for c in self.calls:
            if c.status != 200 or c.chat_id != chat_id:
                continue
            if c.method == "sendMessage":
                shown[c.result["message_id"]] = c.text
            elif c.method == "editMessageText" and int(c.params["message_id"]) in shown:
                shown[int(c.params["message_id"])] = c.text
            elif c.method == "deleteMessage":
                shown.pop(int(c.params["message_id"]), None)
        return [shown[mid] for mid in sorted(shown)]


class ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _kind(update: dict) -> str:
    return next(k for k in update if k != "update_id")


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


async def post_webhook(url: str, update: dict, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    async with ClientSession() as s, s.post(url, json=update, headers=headers) as r:
        return r.status
