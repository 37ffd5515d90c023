"""A fake Discord (REST API, CDN and gateway in aiohttp) that the real discord.py client connects to."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API = "/api/v10"
JSON = {"Content-Type": "application/json"}  # exactly: discord.py parses JSON only for this content type
EPHEMERAL = 64
MESSAGE_CONTENT = 1 << 15  # the privileged gateway intent


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), status=status, headers={**JSON, **(headers or {})})


def user(uid: int, name: str, *, bot: bool = False) -> dict:
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name.title(), "avatar": None,
            "bot": bot, "public_flags": 0}  # fmt: skip


@dataclass
class Event:
    """One thing the bot did through the API: kind is callback, followup, edit, delete, dm, dm_edit,
    message_delete, sync or limited."""

    kind: str
    at: float
    interaction_id: int | None = None
    payload: dict = field(default_factory=dict)
    message: dict | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    path: str = ""

    @property
    def content(self) -> str:
        return (self.message or {}).get("content") or (self.payload.get("data") or {}).get("content") or self.payload.get("content") or ""

    @property
    def ephemeral(self) -> bool:
        flags = (self.message or {}).get("flags") or (self.payload.get("data") or {}).get("flags") or self.payload.get("flags") or 0
        return bool(int(flags) & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        rows = (self.message or {}).get("components") or []
        return [c["custom_id"] for r in rows for c in r.get("components", []) if c.get("custom_id")]

    @property
    def urls(self) -> list[str]:
        rows = (self.message or {}).get("components") or []
        return [c["url"] for r in rows for c in r.get("components", []) if c.get("url")]


class FakeDiscord:
    """One bot; its guild with a #general channel and an operator role; a stranger's guild that invited the bot
    too (with roles named like the operator role); any number of users."""

    def __init__(self, *, token: str = "fake-bot-token", bot_id: int = 900000000000000001) -> None:
        self.token, self.bot_id = token, bot_id
        self.guild_id, self.channel_id, self.operator_role_id = 910000000000000001, 920000000000000001, 930000000000000001
        self.stranger_guild_id, self.stranger_channel_id = 910000000000000002, 920000000000000002
        # guild -> {role id: name}. Each guild has a decoy named like the operator role's id; the stranger's guild
        # also has one named like the operator role.
        self.roles: dict[int, dict[int, str]] = {
            self.guild_id: {self.operator_role_id: "Treasurer", 930000000000000002: str(self.operator_role_id)},
            self.stranger_guild_id: {930000000000000003: "Treasurer", 930000000000000004: str(self.operator_role_id)},
        }
        self.bot_user = user(bot_id, "snowrail", bot=True)
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.events: list[Event] = []
        self.commands: dict[int | None, list[dict]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self.ready_at: float | None = None
        self.sent_at: dict[int, float] = {}
        self.messages: dict[int, dict] = {}
        self.originals: dict[str, int] = {}  # interaction token -> its original response message id
        self.loading: set[str] = set()  # interaction tokens whose original response is a "thinking…" placeholder
        self.tokens: dict[str, int] = {}  # interaction token -> interaction id
        self.files: dict[int, tuple[str, bytes]] = {}
        self.closed_dms: set[int] = set()
        self.dm_users: set[int] = set()
        self.may_delete = True  # whether the bot holds Manage Messages in #general (else DELETE gets 403)
        self.privileged = True  # whether the portal grants the message content intent (else IDENTIFY with it: 4014)
        self.intents: list[int] = []  # the intents of each IDENTIFY
        self._pressed: dict[int, dict] = {}  # component interaction id -> the message it came from
        self.limits: dict[str, list[tuple[float, bool]]] = {}  # kind -> (retry_after, with Via) of the next 429s
        self._seq = 0
        self._changed = asyncio.Condition()
        self.runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gw", self._gateway)
        app.router.add_get(f"{API}/users/@me", self._me)
        app.router.add_get(f"{API}/oauth2/applications/@me", self._application)
        app.router.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        app.router.add_put(f"{API}/applications/{{app}}/commands", self._sync)
        app.router.add_post(f"{API}/interactions/{{iid}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{API}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_get(f"{API}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._get_message)
        app.router.add_patch(f"{API}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._edit)
        app.router.add_delete(f"{API}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._delete)
        app.router.add_post(f"{API}/users/@me/channels", self._open_dm)
        app.router.add_post(f"{API}/channels/{{cid}}/messages", self._channel_message)
        app.router.add_patch(f"{API}/channels/{{cid}}/messages/{{mid}}", self._edit_channel_message)
        app.router.add_delete(f"{API}/channels/{{cid}}/messages/{{mid}}", self._delete_channel_message)
        app.router.add_get("/cdn/attachments/{aid}/{name}", self._cdn)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started just above
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_BOT_TOKEN": self.token,
            "DISCORD_API_BASE_URL": self.api_url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DISCORD_GUILD_IDS": str(self.guild_id),
        }

    # ------------------------------------------------------------ what tests read
    async def _record(self, event: Event) -> Event:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()
        return event

    async def wait_for(self, predicate, timeout: float = 15.0) -> Event:
        """The first event (old or new) matching `predicate`."""
        async with self._changed:
            deadline = time.monotonic() + timeout
            while True:
                for e in self.events:
                    if predicate(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event in {timeout}s; saw {[(e.kind, e.content[:60]) for e in self.events[-8:]]}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass

    def of(self, interaction_id: int, kind: str | None = None) -> list[Event]:
        return [e for e in self.events if e.interaction_id == interaction_id and (kind is None or e.kind == kind)]

    async def answer(self, interaction_id: int, timeout: float = 15.0) -> Event:
        """The first message that answers an interaction: its response, or its first follow-up after a defer."""

        def is_answer(e: Event) -> bool:
            if e.interaction_id != interaction_id:
                return False
            if e.kind == "callback":
                return e.payload.get("type") in (4, 8)
            return e.kind in ("followup", "edit") and bool(e.content)

        return await self.wait_for(is_answer, timeout)

    def limit_next(self, kind: str, *retry_after: float, via: bool = True) -> None:
        """Answer the next requests of `kind` (dm, followup, callback) with 429 and these retry_after values.
        `via=False` leaves out Discord's Via header, as a proxy or Cloudflare answers (discord.py then raises)."""
        self.limits.setdefault(kind, []).extend((r, via) for r in retry_after)

    async def _limited(self, kind: str, request: web.Request) -> web.Response | None:
        pending = self.limits.get(kind)
        if not pending:
            return None
        retry_after, via = pending.pop(0)
        await self._record(Event("limited", time.perf_counter(), payload={"kind": kind, "retry_after": retry_after}, path=request.path))
        headers = {"Retry-After": str(max(1, int(retry_after))), "X-RateLimit-Scope": "user", "X-RateLimit-Limit": "5",
                   "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(retry_after), "X-RateLimit-Bucket": f"fake-{kind}"}  # fmt: skip
        if via:
            headers["Via"] = "1.1 google"
        return _json({"message": "You are being rate limited.", "retry_after": retry_after, "global": False}, 429, headers)

    # ------------------------------------------------------------ driving the bot
    def member(self, uid: int, name: str, *, operator: bool = False, roles: tuple[int, ...] = ()) -> dict:
        held = [self.operator_role_id] if operator else []
        return {"user": user(uid, name), "roles": [str(r) for r in [*held, *roles]], "permissions": "2248473465835073",
                "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0, "nick": None,
                "avatar": None, "pending": False, "premium_since": None}  # fmt: skip

    def _channel(self, dm_user: dict | None, guild_id: int | None = None) -> dict:
        if dm_user is not None:
            return {"id": str(self._dm_channel_id(int(dm_user["id"]))), "type": 1, "recipients": [dm_user], "flags": 0}
        guild_id = guild_id or self.guild_id
        cid = self.channel_id if guild_id == self.guild_id else self.stranger_channel_id
        return {"id": str(cid), "type": 0, "name": "general", "guild_id": str(guild_id), "position": 0,
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "flags": 0, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0}  # fmt: skip

    def _interaction(self, itype: int, data: dict, who: tuple[int, str], *, operator: bool = False, dm: bool = False,
                     message: dict | None = None, interaction_id: int | None = None, guild: int | None = None,
                     roles: tuple[int, ...] = ()) -> dict:  # fmt: skip
        """`guild`: the guild it comes from (default: the bot's own); `roles`: ids the member holds there."""
        guild = guild or self.guild_id
        iid = interaction_id or next(self._ids)
        token = f"itoken-{iid}"
        self.tokens[token] = iid
        uid, name = who
        d: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.bot_id), "type": itype, "data": data, "token": token, "version": 1,
            "locale": "en-US", "app_permissions": "2248473465835073", "entitlements": [], "attachment_size_limit": 10485760,
            "authorizing_integration_owners": {"0": str(guild)}, "context": 1 if dm else 0,
        }  # fmt: skip
        d["channel"] = self._channel(user(uid, name) if dm else None, guild)
        d["channel_id"] = d["channel"]["id"]
        if dm:
            d["user"] = user(uid, name)
        else:
            d["guild_id"] = str(guild)
            d["guild"] = {"id": str(guild), "locale": "en-US", "features": []}
            d["guild_locale"] = "en-US"
            d["member"] = self.member(uid, name, operator=operator, roles=roles)
        if message is not None:
            d["message"] = message
        return d

    def slash(self, name: str, options: dict[str, Any], who: tuple[int, str], *, attachment: tuple[str, bytes] | None = None,
              focused: str | None = None, **kw) -> dict:  # fmt: skip
        """An INTERACTION_CREATE for /name with these options (an attachment goes in the `file` option). From the
        stranger's guild (`guild=`) it is a global command: only the bot's own guild has the guild commands."""
        types = {str: 3, int: 4, bool: 5}
        opts = [{"name": k, "type": types[type(v)], "value": v} for k, v in options.items() if v is not None]
        for o in opts:
            if o["name"] == focused:
                o["focused"] = True
        data: dict[str, Any] = {"id": str(self._command_id(name)), "name": name, "type": 1, "options": opts}
        if not kw.get("dm") and kw.get("guild", self.guild_id) == self.guild_id:
            data["guild_id"] = str(self.guild_id)
        if attachment is not None:
            aid = next(self._ids)
            filename, content = attachment
            self.files[aid] = (filename, content)
            url = f"{self.base}/cdn/attachments/{aid}/{filename}"
            data["options"].append({"name": "file", "type": 11, "value": str(aid)})
            data["resolved"] = {"attachments": {str(aid): {"id": str(aid), "filename": filename, "size": len(content),
                                "url": url, "proxy_url": url, "content_type": "text/csv"}}}  # fmt: skip
        return self._interaction(4 if focused else 2, data, who, **kw)

    async def post(self, content: str, who: tuple[int, str], *, bot: bool = False, edit: int | None = None,
                   dm: bool = False, operator: bool = False, attachment: tuple[str, bytes] | None = None) -> int:
        """Someone posts `content` in #general, or to the bot in a DM (or edits their message `edit` to say it): a
        MESSAGE_CREATE (MESSAGE_UPDATE) through the gateway; returns the message id. `attachment`: a file with it."""
        uid, name = who
        if edit is None:
            channel = self._dm_channel_id(uid) if dm else self.channel_id
            msg = self._message({"content": content}, channel_id=channel, files={}, author=user(uid, name, bot=bot))
            msg.pop("webhook_id"), msg.pop("application_id")
            if attachment is not None:
                aid, (filename, data) = next(self._ids), attachment
                self.files[aid] = attachment
                url = f"{self.base}/cdn/attachments/{aid}/{filename}"
                msg["attachments"] = [{"id": str(aid), "filename": filename, "size": len(data), "url": url, "proxy_url": url}]
        else:
            msg = self.messages[edit]
            msg.update(content=content, edited_timestamp="2026-11-26T12:00:01+00:00")
        event = "MESSAGE_CREATE" if edit is None else "MESSAGE_UPDATE"
        if dm:
            await self.dispatch(event, msg)
        else:
            member = {k: v for k, v in self.member(uid, name, operator=operator).items() if k != "user"}
            await self.dispatch(event, {**msg, "guild_id": str(self.guild_id), "member": member})
        return int(msg["id"])

    def press(self, message: dict, custom_id: str, who: tuple[int, str], **kw) -> dict:
        data = {"custom_id": custom_id, "component_type": 2}
        interaction = self._interaction(3, data, who, message=message, **kw)
        # A press is answered by editing the message it came from (response type 7).
        self._pressed[int(interaction["id"])] = self.messages.get(int(message["id"]), message)
        return interaction

    async def send(self, interaction: dict) -> int:
        """Deliver an INTERACTION_CREATE through the gateway; returns the interaction id."""
        iid = int(interaction["id"])
        self.sent_at.setdefault(iid, time.perf_counter())
        await self.dispatch("INTERACTION_CREATE", interaction)
        return iid

    async def dispatch(self, event: str, data: dict) -> None:
        self._seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(frame)

    def _command_id(self, name: str) -> int:
        for cmds in self.commands.values():
            for c in cmds:
                if c["name"] == name:
                    return int(c["id"])
        return 1

    def _dm_channel_id(self, uid: int) -> int:
        return 940000000000000000 + uid % 10**15

    def dm_shows(self, uid: int) -> list[str]:
        """The DM with `uid` as its user sees it now, oldest first: each message's latest content, deletions gone.
        Tests assert this outcome rather than the calls that led to it."""
        cid = str(self._dm_channel_id(uid))
        return [m["content"] for _, m in sorted(self.messages.items()) if m["channel_id"] == cid]

    # ------------------------------------------------------------ REST handlers
    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return _json(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return _json({"id": str(self.bot_id), "name": "SnowRail", "description": "", "icon": None, "bot_public": True,
                      "bot_require_code_grant": False, "owner": user(1, "owner"), "verify_key": "00" * 32,
                      "flags": (1 << 19) if self.privileged else 0,  # GATEWAY_MESSAGE_CONTENT_LIMITED, as the portal sets
                      "summary": "", "team": None})  # fmt: skip

    async def _sync(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        body = await request.json()
        gid = int(request.match_info["guild"]) if "guild" in request.match_info else None
        out = []
        for c in body:
            c = {**c, "id": str(next(self._ids)), "application_id": str(self.bot_id), "version": "1"}
            if gid:
                c["guild_id"] = str(gid)
            out.append(c)
        self.commands[gid] = out
        await self._record(Event("sync", time.perf_counter(), payload={"guild": gid, "names": [c["name"] for c in out]}))
        return _json(out)

    async def _body(self, request: web.Request) -> tuple[dict, dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            files = {}
            for name, value in form.items():
                if hasattr(value, "file"):
                    files[value.filename] = value.file.read()  # type: ignore[union-attr]  # a file part has one
            return payload, files
        text = await request.text()
        return (json.loads(text) if text else {}), {}

    def _message(self, payload: dict, *, channel_id: int, files: dict[str, bytes], author: dict | None = None) -> dict:
        mid = next(self._ids)
        msg = {
            "id": str(mid), "channel_id": str(channel_id), "author": author or self.bot_user, "content": payload.get("content") or "",
            "timestamp": "2026-11-26T12:00:00+00:00", "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "pinned": False, "type": 0, "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [], "flags": int(payload.get("flags") or 0),
            "attachments": [{"id": str(next(self._ids)), "filename": n, "size": len(b), "url": f"{self.base}/cdn/x/{n}",
                             "proxy_url": f"{self.base}/cdn/x/{n}"} for n, b in files.items()],
            "webhook_id": str(self.bot_id), "application_id": str(self.bot_id),
        }  # fmt: skip
        self.messages[mid] = msg
        return msg

    async def _callback(self, request: web.Request) -> web.Response:
        if limited := await self._limited("callback", request):
            return limited
        iid, token = int(request.match_info["iid"]), request.match_info["token"]
        if self.tokens.get(token) != iid:
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        payload, files = await self._body(request)
        if any(e.kind == "callback" and e.interaction_id == iid for e in self.events):
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        rtype = payload.get("type")
        data = payload.get("data") or {}
        resource: dict[str, Any] = {"type": rtype}
        message = None
        if rtype in (4, 5):
            message = self._message(data, channel_id=self.channel_id, files=files)
            self.originals[token] = int(message["id"])
            if rtype == 5:
                self.loading.add(token)
        elif rtype == 7:
            source = self._source_message(iid)
            if source is not None:
                source.update({k: v for k, v in data.items() if k in ("content", "components", "embeds")})
                message = source
        if message is not None:
            resource["message"] = message
        await self._record(Event("callback", time.perf_counter(), iid, payload, message, files, request.path))
        answer = {"interaction": {"id": str(iid), "type": 2, "response_message_id": message and message["id"],
                                  "response_message_loading": rtype == 5,
                                  "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL)}}  # fmt: skip
        if rtype in (4, 5, 7):
            answer["resource"] = resource
        return _json(answer)

    def _source_message(self, iid: int) -> dict | None:
        return self._pressed.get(iid)

    async def _followup(self, request: web.Request) -> web.Response:
        if limited := await self._limited("followup", request):
            return limited
        token = request.match_info["token"]
        iid = self.tokens.get(token)
        if iid is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        payload, files = await self._body(request)
        if token in self.loading:  # the first follow-up after a defer replaces the placeholder
            self.loading.discard(token)
            msg = self.messages[self.originals[token]]
            msg.update({"content": payload.get("content") or "", "components": payload.get("components") or [],
                        "flags": msg["flags"]})  # fmt: skip
        else:
            msg = self._message(payload, channel_id=self.channel_id, files=files)
        await self._record(Event("followup", time.perf_counter(), iid, payload, msg, files, request.path))
        return _json(msg)

    def _find(self, token: str, mid: str) -> dict | None:
        if mid == "@original":
            original = self.originals.get(token)
            return self.messages.get(original) if original else None
        return self.messages.get(int(mid))

    async def _get_message(self, request: web.Request) -> web.Response:
        msg = self._find(request.match_info["token"], request.match_info["mid"])
        return _json(msg) if msg else _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _edit(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        msg = self._find(token, request.match_info["mid"])
        if msg is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        payload, files = await self._body(request)
        msg.update({k: v for k, v in payload.items() if k in ("content", "components", "embeds")})
        self.loading.discard(token)
        await self._record(Event("edit", time.perf_counter(), self.tokens.get(token), payload, msg, files, request.path))
        return _json(msg)

    async def _delete(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        msg = self._find(token, request.match_info["mid"])
        if msg is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self.messages.pop(int(msg["id"]), None)
        if request.match_info["mid"] == "@original":
            self.originals.pop(token, None)
        self.loading.discard(token)
        await self._record(Event("delete", time.perf_counter(), self.tokens.get(token), {}, msg, path=request.path))
        return web.Response(status=204)

    async def _open_dm(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        uid = int((await request.json())["recipient_id"])
        self.dm_users.add(uid)
        return _json({"id": str(self._dm_channel_id(uid)), "type": 1, "recipients": [user(uid, f"user{uid % 1000}")],
                      "last_message_id": None, "flags": 0})  # fmt: skip

    async def _channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if limited := await self._limited("dm", request):
            return limited
        cid = int(request.match_info["cid"])
        uid = next((u for u in self._dm_users() if self._dm_channel_id(u) == cid), None)
        if uid is not None and uid in self.closed_dms:
            return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
        payload, files = await self._body(request)
        msg = self._message(payload, channel_id=cid, files=files)
        await self._record(Event("dm", time.perf_counter(), None, {**payload, "user_id": uid}, msg, files, request.path))
        return _json(msg)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if limited := await self._limited("dm", request):
            return limited
        msg = self.messages.get(int(request.match_info["mid"]))
        if msg is None or msg["channel_id"] != request.match_info["cid"]:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        payload, files = await self._body(request)
        msg.update({k: v for k, v in payload.items() if k in ("content", "components", "embeds")})
        msg["edited_timestamp"] = "2026-11-26T12:00:01+00:00"
        await self._record(Event("dm_edit", time.perf_counter(), None, payload, msg, files, request.path))
        return _json(msg)

    async def _delete_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        cid, mid = int(request.match_info["cid"]), int(request.match_info["mid"])
        if cid == self.channel_id and not self.may_delete:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        msg = self.messages.pop(mid, None)
        if msg is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        await self._record(Event("message_delete", time.perf_counter(), None, {}, msg, path=request.path))
        return web.Response(status=204)

    def _dm_users(self) -> set[int]:
        return self.dm_users | self.closed_dms

    async def _cdn(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        if aid not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[aid][1], headers={"Content-Type": "text/csv"})

    # ------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    if frame["d"].get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    self.intents.append(int(frame["d"].get("intents") or 0))
                    if not self.privileged and self.intents[-1] & MESSAGE_CONTENT:
                        await ws.close(code=4014, message=b"Disallowed intent(s).")
                        break
                    await self._ready(ws)
                elif op == 6:
                    self._seq += 1
                    await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": self._seq, "d": {}}))
                    await self._record(Event("resumed", time.perf_counter(), payload={"session_id": frame["d"].get("session_id")}))
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        self._seq += 1
        guilds = [{"id": str(g), "unavailable": True} for g in self.roles]
        ready = {"v": 10, "user": self.bot_user, "guilds": guilds,
                 "session_id": "fake-session", "resume_gateway_url": self.gateway_url, "private_channels": [],
                 "relationships": [], "application": {"id": str(self.bot_id), "flags": 0}, "shard": [0, 1]}  # fmt: skip
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self.ready_at = time.perf_counter()
        for gid in self.roles:
            self._seq += 1
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": self._guild(gid)}))
        self.identified.set()

    def _guild(self, gid: int) -> dict:
        def role(rid: int, name: str, position: int) -> dict:
            return {"id": str(rid), "name": name, "color": 0, "hoist": False, "position": position, "permissions": "0",
                    "managed": False, "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}  # fmt: skip

        roles = [role(rid, name, n) for n, (rid, name) in enumerate(self.roles[gid].items(), 1)]
        return {
            "id": str(gid), "name": "SnowRail test guild" if gid == self.guild_id else "Someone else's server",
            "icon": None, "owner_id": "1", "unavailable": False, "roles": [role(gid, "@everyone", 0), *roles],
            "channels": [self._channel(None, gid)], "members": [], "member_count": 3, "emojis": [], "stickers": [],
            "features": [], "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0, "large": False,
            "threads": [], "stage_instances": [], "guild_scheduled_events": [], "voice_states": [], "presences": [],
            "joined_at": "2026-01-01T00:00:00+00:00", "system_channel_flags": 0, "afk_timeout": 300,
        }  # fmt: skip
