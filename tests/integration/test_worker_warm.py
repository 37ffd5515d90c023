"""A forked RQ job process starts warm: the worker loads every module of the app before it forks (workers.process
.prepare), so a job imports nothing itself, and the worker opens no connection a job process could inherit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]

# As RQ's forking Worker does: prepare in the worker, fork, run the job in the child. The child reports what it
# had to import for the job, and how many sockets the worker held after prepare().
FORKED_JOB = """
import json, os, sys
from workers import process

def sockets():
    return sum(os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}"))

before = sockets()
process.prepare()
after = sockets()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    from workers import jobs
    loaded = set(sys.modules)
    sent = jobs.deliver_notifications()
    report = {"imported": sorted(set(sys.modules) - loaded), "sent": sent, "builds": process.builds}
    os.write(write, json.dumps(report).encode())
    os._exit(0)
os.close(write)
report = json.loads(os.read(read, 1 << 20))
os.waitpid(pid, 0)
report["worker_sockets_opened"] = after - before
print(json.dumps(report))
"""


async def test_a_forked_job_imports_nothing_and_the_worker_holds_no_connection(anvil_stack, new_postgres_database):
    from adapters.db.migrate import upgrade

    db = new_postgres_database()
    await upgrade(db)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "DATABASE_URL": db,
           **anvil_stack.env()}
    done = subprocess.run([sys.executable, "-c", FORKED_JOB], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == []  # web3, eth_account, SQLAlchemy, asyncpg ... all loaded before the fork
    assert report["builds"] == 1 and report["sent"] == 0  # the job ran on an app of its own: nothing was pending
    assert report["worker_sockets_opened"] == 0  # nothing for a job process to inherit and share
