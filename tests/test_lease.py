"""The lake's lease (foundation.lease): one writer at a time across work dirs and machines, on a local folder
and on a real S3 API (moto server): taken, refused with the holder's name, kept alive by heartbeats, taken
over from an expired or dead holder by exactly one of many racers, and never silently lost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.layout import LEASE
from foundation.lease import LakeLease, LeaseBusy, LeaseLost, lake_lease
from foundation.settings import Settings
from tests.bronze_reader import bronze_tweet_ids
from tests.fixtures_lake import query


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    return request.getfixturevalue("s3_bucket").lake()


def stale(lake: Lake, **fields: object) -> None:
    """A lease left by a holder that is gone (written as a holder writes it)."""
    body = {"host": "other-box", "pid": 4242, "step": "build", "since": "2026-12-01T00:00:00Z"}
    body["token"] = "old"
    lake.write_bytes(LEASE, json.dumps({**body, **fields}).encode())


def test_a_second_writer_is_refused_naming_the_holder_and_the_lease_goes_with_its_holder(lake: Lake) -> None:
    first = LakeLease(lake, "build", ttl=30, wait=0)
    first.acquire()
    assert lake.exists(LEASE)
    with pytest.raises(LeaseBusy) as refused:
        LakeLease(lake, "publish", ttl=30, wait=0.3).acquire()
    message = str(refused.value)
    assert f"build on {socket.gethostname()} pid {os.getpid()} since {first.since}" in message
    assert "TWEETLAKE_LEASE_WAIT" in message
    first.release()
    assert not lake.exists(LEASE)
    second = LakeLease(lake, "publish", ttl=30, wait=0)
    second.acquire()
    second.release()


def test_heartbeats_keep_a_lease_past_its_ttl(lake: Lake) -> None:
    holder = LakeLease(lake, "build", ttl=0.6, wait=0)
    holder.acquire()
    try:
        for _ in range(4):  # 1.6 s: more than twice the ttl
            time.sleep(0.4)
            with pytest.raises(LeaseBusy):
                LakeLease(lake, "ingest", ttl=0.6, wait=0).acquire()
    finally:
        holder.release()


def test_an_expired_lease_is_taken_over(lake: Lake) -> None:
    stale(lake, expires_epoch=time.time() - 1)
    taker = LakeLease(lake, "build", ttl=30, wait=0)
    taker.acquire()
    assert lake.read_json(LEASE)["token"] == taker.token
    taker.release()


def test_a_live_holder_elsewhere_is_waited_for_but_a_dead_process_here_is_not(lake: Lake) -> None:
    stale(lake, expires_epoch=time.time() + 60)
    with pytest.raises(LeaseBusy, match="build on other-box pid 4242"):
        LakeLease(lake, "build", ttl=30, wait=0.2).acquire()
    script = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    stale(lake, host=socket.gethostname(), pid=int(dead.stdout), expires_epoch=time.time() + 60)
    taker = LakeLease(lake, "build", ttl=30, wait=0)
    taker.acquire()  # no wait for the expiry: its holder is not running
    taker.release()


def test_of_many_writers_racing_for_a_stale_lease_one_holds_it_at_a_time(lake: Lake) -> None:
    stale(lake, expires_epoch=time.time() - 1)
    inside, most, done = [0], [0], []
    guard = threading.Lock()

    def writer(i: int) -> None:
        lease = LakeLease(lake, f"writer {i}", ttl=30, wait=60)
        lease.acquire()
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with guard:
            inside[0] -= 1
        lease.release()
        done.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(done) == list(range(6)) and most[0] == 1
    assert not lake.exists(LEASE)


def test_a_lease_taken_by_another_writer_is_reported_not_released(lake: Lake) -> None:
    holder = LakeLease(lake, "build", ttl=0.4, wait=0)
    holder.acquire()
    stale(lake, token="usurper", expires_epoch=time.time() + 60)  # a takeover after a missed heartbeat
    time.sleep(0.5)  # the next heartbeat finds it
    with pytest.raises(LeaseLost, match="lost the lake's lease to build on other-box pid 4242"):
        holder.release()
    assert lake.read_json(LEASE)["token"] == "usurper"  # the other writer's lease is left alone


def test_a_refresh_holds_it_once_across_its_steps(lake: Lake) -> None:
    with lake_lease(lake, "refresh") as outer, lake_lease(lake, "build") as inner:
        assert inner is outer and lake.read_json(LEASE)["step"] == "refresh"
    assert not lake.exists(LEASE)


@pytest.mark.slow
def test_the_cli_waits_then_names_the_writer_of_another_process(
    s3_bucket: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = s3_bucket.lake()  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "TWEETLAKE_LAKE": lake.root,
        "TWEETLAKE_S3_ENDPOINT": lake.s3_endpoint,
        "TWEETLAKE_WORK_DIR": str(tmp_path / "work-a"),
    }
    hold = (
        "import sys, time; from foundation.lake import Lake; from foundation.lease import lake_lease\n"
        f"with lake_lease(Lake({lake.root!r}, {lake.s3_endpoint!r}), 'build'):\n"
        "    print('held', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        other = {**env, "TWEETLAKE_WORK_DIR": str(tmp_path / "work-b"), "TWEETLAKE_LEASE_WAIT": "1"}
        cli = Path(sys.executable).parent / "tweetlake"
        done = subprocess.run(
            [str(cli), "build"],
            env=other,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0
        assert f"build on {socket.gethostname()} pid {holder.pid}" in done.stderr
        assert "waiting for the lake's lease" in done.stdout + done.stderr
        assert not lake.glob("silver/*") and not lake.glob("_staging/*")  # the refused build wrote nothing
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    "where",
    [
        "local",
        pytest.param(
            "s3",
            marks=pytest.mark.skipif(
                not os.environ.get("TWEETLAKE_TEST_S3_REFRESHES"),
                reason="~3 min: TWEETLAKE_TEST_S3_REFRESHES=1 runs it",
            ),
        ),
    ],
)
def test_two_refreshes_from_two_work_dirs_on_one_lake_take_turns_and_lose_nothing(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two machines' refreshes at once (two work dirs, one lake): one waits for the other's lease, both
    succeed, and silver holds every tweet of both runs' bronze exactly once. On moto S3 it takes ~3 min
    (S3 builds pay a per-table cost), so the suite runs it on a folder and S3 on request; the lease's S3 path
    is covered above."""
    settings: Settings = request.getfixturevalue("local_settings" if where == "local" else "s3_settings")
    lake = Lake.from_settings(settings)
    procs = []
    for name, seed in (("a", 1), ("b", 2)):
        env = {
            **os.environ,
            **settings.env_for_subprocess(),
            "TWEETLAKE_WORK_DIR": str(tmp_path / f"work-{name}"),
        }
        cmd = [str(Path(sys.executable).parent / "tweetlake"), "refresh", "--tweets", "200", "--days", "2"]
        cmd += ["--seed", str(seed)]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
    assert sum("waiting for the lake's lease" in err for _, err in outputs) == 1
    silver = f"{lake.url('_staging/silver/tweets')}/**/*.parquet"
    [(rows, distinct)] = query(settings, f"select count(*), count(distinct tweet_id) from '{silver}'")
    assert rows == distinct == len(bronze_tweet_ids(lake))
    assert not lake.exists(LEASE)
