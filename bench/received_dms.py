"""payment_received DMs of one large batch, within Telegram's limits: queued per recipient, delivered paced.

A batch of --rows rows (default 10,000) pays --linked Telegram users who linked their wallet (default 300, each
with several rows) and many unlinked addresses. Measured in one run:
- DMs queued by core.notifications.queue_received, and the time it takes, beside the baseline of one DM per paid
  row to a linked wallet (what a per-row notification would send);
- delivery of those DMs by core.notifications.deliver through the real TelegramNotifier (python-telegram-bot)
  against the fake Bot API: the most messages in any one second overall (Telegram allows ~30) and to one chat
  (1), beside the baseline of the same DMs sent by a bare PTB Bot with no pacing.
Run: .venv/bin/python bench/received_dms.py [--rows 10000] [--linked 300] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide python-telegram-bot.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from telegram import Bot  # noqa: E402

from adapters.telegram.notifier import TelegramNotifier  # noqa: E402
from core.addresses import to_checksum  # noqa: E402
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk, ChunkStatus, RowStatus  # noqa: E402
from core.model import NotificationType, User  # noqa: E402
from core.notifications import deliver, queue_received  # noqa: E402
from core.replies import loads  # noqa: E402
from core.services import Policy, Services  # noqa: E402
from tests.e2e.telegram.fake_bot_api import FakeBotApi  # noqa: E402
from tests.fakes import FakeChain, FakeClock, FakeDatabase  # noqa: E402

FIRST_CHAT = 700_000


def peak(times: list[float], window: float = 1.0) -> int:
    """The most events in any `window` seconds."""
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def peak_per_chat(calls) -> int:
    by_chat: dict[int, list[float]] = {}
    for c in calls:
        by_chat.setdefault(c.chat_id, []).append(c.at)
    return max((peak(ts) for ts in by_chat.values()), default=0)


def batch_of(rows: int, linked: int) -> tuple[Batch, list[BatchRow], list[Chunk], list[User]]:
    clock = FakeClock()
    batch = Batch("bulk-bench0001", "k", "console:op", "big.csv", "h", "csv", rows, {}, clock.now(), clock.now(),
                  status=BatchStatus.RUNNING, started_at=clock.now())
    wallets = [to_checksum("0x" + f"{i + 1:040x}") for i in range(linked)]
    out: list[BatchRow] = []
    for i in range(rows):
        to = wallets[(i // 4) % linked] if i % 4 == 0 else to_checksum("0x" + f"{10**6 + i:040x}")  # 1 row in 4 is linked
        out.append(BatchRow(batch.id, i, i + 2, to, "CRO", 10**17, "0x" + f"{i:064x}", memo=f"row {i}",
                            status=RowStatus.PAID, chunk=i // 160, tx_hash="0x" + f"{i // 160:064x}"))
    chunks = [Chunk(batch.id, k, 0, 160, ChunkStatus.DONE) for k in range(-(-rows // 160))]
    users = [User(f"telegram:{FIRST_CHAT + i}", "telegram", str(FIRST_CHAT + i), f"user {i}", wallet=w,
                  created_at=clock.now()) for i, w in enumerate(wallets)]
    return batch, out, chunks, users


async def run(rows: int, linked: int) -> dict[str, object]:
    db, chain, clock = FakeDatabase(), FakeChain(), FakeClock()
    s = Services(chain=chain, uow=db, clock=clock, policy=Policy(bot_name="Bench Treasury"))
    batch, batch_rows, chunks, users = batch_of(rows, linked)
    async with db() as uow:
        for u in users:
            await uow.users.save(u)
        await uow.batches.add(batch, batch_rows)
        await uow.batches.add_chunks(chunks)
        await uow.commit()
    async with db() as uow:
        t0 = time.perf_counter()
        queued = await queue_received(s, uow, batch, batch_rows)
        queue_s = time.perf_counter() - t0
        await uow.commit()
    per_row = sum(1 for r in batch_rows if r.recipient in {u.wallet for u in users})
    notes = [n for n in db.store.outbox if n.type is NotificationType.PAYMENT_RECEIVED]
    # The in-memory fake copies its whole store per unit of work; delivery needs no batch rows, so drop them and
    # time the sending, not the fake's copying.
    db.store.batch_rows.clear()

    api = await FakeBotApi(token="9001:bench-received-dms-token").start()
    api.started.update(FIRST_CHAT + i for i in range(linked))
    try:
        # Baseline: the same DMs sent as fast as one PTB Bot can, without any pacing.
        async with Bot(api.token, base_url=api.base_url) as bot:
            t0 = time.perf_counter()
            await asyncio.gather(*(bot.send_message(int(n.user_ref.split(":")[1]), loads(n.body).plain()) for n in notes))
            bare_s = time.perf_counter() - t0
        bare = [c for c in api.calls if c.method == "sendMessage"]
        before = len(api.calls)
        notifier = TelegramNotifier(api.token, base_url=api.base_url, base_file_url=api.file_url)
        async with notifier:
            t0 = time.perf_counter()
            sent = await deliver(s, notifier, limit=len(notes) + 10, lease=timedelta(minutes=10))
            ours_s = time.perf_counter() - t0
        ours = [c for c in api.calls[before:] if c.method == "sendMessage"]
    finally:
        await api.stop()
    return {
        "rows": rows, "linked_recipients": linked,
        "dms_queued": queued, "baseline_dms_one_per_row": per_row, "queue_ms": round(queue_s * 1000, 1),
        "dms_delivered": sent, "deliver_s": round(ours_s, 2),
        "peak_per_s_overall": peak([c.at for c in ours]), "peak_per_s_one_chat": peak_per_chat(ours),
        "baseline_unpaced_peak_per_s_overall": peak([c.at for c in bare]), "baseline_unpaced_s": round(bare_s, 2),
        "telegram_limits": {"overall_per_s": 30, "per_chat_per_s": 1},
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--linked", type=int, default=300)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    figures = asyncio.run(run(args.rows, args.linked))
    if args.json:
        print(json.dumps(figures))
        return
    for k, v in figures.items():
        print(f"{k:>38}: {v}")


if __name__ == "__main__":
    main()
