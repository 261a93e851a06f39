"""Instances that died: `maildesk status` marks them `lost`, then forgets them.

Ten real processes join the cluster, beat once and are killed with SIGKILL (no clean
`leave`). Time is given with `--now`, never slept: the instants are those the processes
recorded, plus the silence each assertion is about.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maildesk.config import ClusterConfig, ConfigError
from maildesk.daemon.cluster import Membership, lost_after
from maildesk.store import db
from maildesk.store.models import instances
from tests.conftest import NOW, make_config
from tests.integration.daemon import write_config

ROOT = Path(__file__).resolve().parents[2]
LEASE = ClusterConfig().lease_seconds  # 30 s: a beat every 5 s, lost after 15 s
DAY = timedelta(seconds=ClusterConfig().forget_after)


def _join_and_die(url: str, port: int) -> None:
    """A daemon's membership, then death by SIGKILL: no goodbye, no lease given back."""
    engine = db.connect(url)
    member = Membership(engine, lambda: NOW, f"127.0.0.1:{port}", LEASE, ["desk1"])
    member.join()
    member.beat()
    os.kill(os.getpid(), signal.SIGKILL)


def _status(config: Path, now, *, as_json: bool = True):
    """`maildesk status [--json] --now NOW`, as an admin runs it (its exit code is the
    Nagios state: 2 CRITICAL while no instance is alive, so it is not checked here)."""
    args = ["--config", str(config), "status", "--now", now.isoformat()]
    done = subprocess.run(
        [sys.executable, "-m", "maildesk", *args, *(["--json"] if as_json else [])],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    return json.loads(done.stdout) if as_json else done.stdout


def test_ten_killed_instances_are_lost_then_gone(db_url, tmp_path):
    config, _port = write_config(tmp_path, db_url)
    db.migrate(db.connect(db_url))
    fork = multiprocessing.get_context("fork")
    killed = [fork.Process(target=_join_and_die, args=(db_url, 3000 + n)) for n in range(10)]
    for proc in killed:
        proc.start()
    for proc in killed:
        proc.join(60)
    assert [proc.exitcode for proc in killed] == [-signal.SIGKILL] * 10

    assert lost_after(LEASE) == 15
    fresh = _status(config, NOW + timedelta(seconds=14))
    assert [m["state"] for m in fresh["instances"]] == ["alive"] * 10
    lost = _status(config, NOW + timedelta(seconds=16))  # three heartbeats missed
    assert [m["state"] for m in lost["instances"]] == ["lost"] * 10
    assert {m["alive"] for m in lost["instances"]} == {False}
    assert "instances (0 alive, 10 lost):" in _status(
        config, NOW + timedelta(seconds=16), as_json=False
    )
    a_day = _status(config, NOW + DAY - timedelta(seconds=1))
    assert len(a_day["instances"]) == 10  # still listed, lost, until forget_after

    later = NOW + DAY + timedelta(seconds=1)
    assert _status(config, later)["instances"] == []  # dropped from the list

    # A live instance deletes the forgotten rows at its next heartbeat.
    engine = db.connect(db_url)
    survivor = Membership(engine, lambda: later, "127.0.0.1:2999", LEASE, ["desk1"])
    survivor.join()
    survivor.beat()
    assert survivor.holds("desk1")  # the dead instances' lease was long expired
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(instances)).scalar_one() == 1
    shown = _status(config, later)
    assert [(m["id"], m["state"]) for m in shown["instances"]] == [(survivor.id, "alive")]
    engine.dispose()


def test_forget_after_must_outlast_three_heartbeats(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(ConfigError, match=r"cluster.forget_after: must be longer than three"):
        make_config(url, tmp_path, cluster={"lease_seconds": 30, "forget_after": 10})
    cfg = make_config(url, tmp_path, cluster={"forget_after": 3600})
    assert cfg.cluster.forget_after == 3600
