"""`snowrail run worker` shares the bot's chain and database: without them it refuses to start, naming what is missing."""

from __future__ import annotations

import subprocess

from .test_console import SNOWRAIL


def test_a_worker_without_shared_settings_refuses_to_start(tmp_path):
    done = subprocess.run([SNOWRAIL, "run", "worker", "--burst"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "REDIS_URL" in done.stderr and "Traceback" not in done.stderr
    with_redis = subprocess.run([SNOWRAIL, "run", "worker", "--burst"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                 "REDIS_URL": "redis://127.0.0.1:6379/15"})
    assert with_redis.returncode == 2 and "DATABASE_URL" in with_redis.stderr, with_redis.stderr
