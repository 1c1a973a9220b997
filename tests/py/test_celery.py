"""Celery against MiniRedis: a real worker process, started by the test, with
`miniredis node` as both the broker (lists, BRPOP, the unacked sorted set and hash)
and the result backend (results stored with SETEX and announced on pub/sub channels
that AsyncResult.get() subscribes to). Tasks are sent, run, and their results or
errors fetched, within bounded time."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

# Not skipped when missing: scripts/test.sh installs it (pip install celery[redis]).
import celery  # noqa: F401

TASKS = textwrap.dedent(
    """
    import os
    import time

    from celery import Celery

    url = os.environ["CELERY_TEST_URL"]
    app = Celery("citasks", broker=url, backend=url)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        result_expires=600,
        broker_transport_options={"visibility_timeout": 3600},
    )


    @app.task
    def add(x, y):
        return x + y


    @app.task
    def slow_square(x):
        time.sleep(0.05)
        return x * x


    @app.task
    def boom(msg):
        raise ValueError(msg)


    @app.task
    def total(values):
        return sum(values)
    """
)


@pytest.fixture(scope="module")
def worker(server, tmp_path_factory):
    """A Celery worker process on the module's server; stopped after the tests."""
    d = tmp_path_factory.mktemp("celery")
    (d / "citasks.py").write_text(TASKS)
    env = dict(os.environ)
    env["CELERY_TEST_URL"] = f"redis://127.0.0.1:{server.port}/0"
    env["PYTHONPATH"] = str(d) + os.pathsep + env.get("PYTHONPATH", "")
    log = open(d / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "citasks", "worker", "--pool=solo",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"ci-{os.getpid()}@localhost"],
        cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    os.environ["CELERY_TEST_URL"] = env["CELERY_TEST_URL"]
    sys.path.insert(0, str(d))
    import citasks

    try:
        # Ready when it answers a ping over the broker (control messages use pub/sub).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if citasks.app.control.ping(timeout=0.5):
                break
        if proc.poll() is not None:
            pytest.fail("celery worker exited:\n" + (d / "worker.log").read_text()[-4000:])
        yield citasks
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        sys.path.remove(str(d))
        sys.modules.pop("citasks", None)
        del os.environ["CELERY_TEST_URL"]


def worker_log(worker):
    path = os.path.join(os.path.dirname(worker.__file__), "worker.log")
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")[-4000:]


def test_tasks_run_and_results_come_back(worker):
    r = worker.add.delay(2, 3)
    assert r.get(timeout=30) == 5, worker_log(worker)
    assert r.successful()
    assert r.state == "SUCCESS"


def test_many_tasks_and_a_group(worker):
    from celery import chord, group

    results = [worker.slow_square.delay(i) for i in range(20)]
    assert [x.get(timeout=60) for x in results] == [i * i for i in range(20)]
    g = group(worker.add.s(i, i) for i in range(10))()
    assert g.get(timeout=60) == [2 * i for i in range(10)]
    # A chord: the callback runs once every header task's result is in the backend.
    c = chord(worker.add.s(i, 1) for i in range(5))(worker.total.s())
    assert c.get(timeout=60) == sum(i + 1 for i in range(5))


def test_a_failing_task_reports_its_error(worker):
    r = worker.boom.delay("kaput")
    with pytest.raises(ValueError, match="kaput"):
        r.get(timeout=30)
    assert r.state == "FAILURE"


def test_chain(worker):
    from celery import chain

    r = chain(worker.add.s(1, 2), worker.add.s(10), worker.slow_square.s())()
    assert r.get(timeout=60) == 169
