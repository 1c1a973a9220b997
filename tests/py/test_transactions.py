"""redis-py transactions against MiniRedis: MULTI/EXEC pipelines, WATCH and the
optimistic-locking retry loop with racing clients, errors while queuing and inside
EXEC, and blocking commands inside a transaction."""

import threading

import pytest
import redis


def test_transaction_pipeline(r):
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").incr("a").get("a").rpush("l", "x", "y").hset("h", "f", "v")
        assert p.execute() == [True, 2, "2", 2, 1]
    assert r.get("a") == "2"
    assert r.hgetall("h") == {"f": "v"}


def test_errors_inside_exec_are_per_command(r):
    r.set("s", "text")
    with r.pipeline(transaction=True) as p:
        p.incr("s").set("after", "yes").get("after")
        results = p.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert "not an integer" in str(results[0])
    assert results[1:] == [True, "yes"]


def test_error_while_queuing_discards_everything(r):
    r.delete("q1", "q2")
    with r.pipeline(transaction=True) as p:
        p.set("q1", "1")
        p.execute_command("NOSUCHCOMMAND", "x")
        p.set("q2", "2")
        # redis-py reports the queuing error (EXEC answered EXECABORT).
        with pytest.raises(redis.ResponseError, match="unknown command"):
            p.execute()
    assert r.exists("q1", "q2") == 0


def test_watch_breaks_when_another_client_writes(r, make_client):
    other = make_client()
    r.set("balance", 100)
    with r.pipeline() as p:
        p.watch("balance")
        current = int(p.get("balance"))
        other.incrby("balance", 5)
        p.multi()
        p.set("balance", current - 10)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("balance") == "105"
    # Unwatched now: the same transaction goes through.
    with r.pipeline() as p:
        p.watch("balance")
        current = int(p.get("balance"))
        p.multi()
        p.set("balance", current - 10)
        assert p.execute() == [True]
    assert r.get("balance") == "95"


def test_optimistic_locking_retry_loop_with_racing_clients(make_client):
    """The classic WATCH/GET/MULTI/SET/EXEC loop: each client retries when another
    touched the counter in between; every increment ends up counted once."""
    clients, each = 4, 100
    r0 = make_client()
    r0.delete("counter")
    retries = []
    start = threading.Barrier(clients)

    def worker():
        c = make_client()
        mine = 0
        start.wait()
        for _ in range(each):
            with c.pipeline() as p:
                while True:
                    try:
                        p.watch("counter")
                        value = int(p.get("counter") or 0)
                        p.multi()
                        p.set("counter", value + 1)
                        p.execute()
                        break
                    except redis.WatchError:
                        mine += 1
        retries.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(retries) == clients, "a worker did not finish"
    assert int(r0.get("counter")) == clients * each


def test_transaction_helper(r):
    r.set("x", 10)

    def double(pipe):
        v = int(pipe.get("x"))
        pipe.multi()
        pipe.set("x", v * 2)

    r.transaction(double, "x")
    assert r.get("x") == "20"


def test_blocking_command_inside_multi_does_not_block(r):
    r.delete("nothing")
    with r.pipeline(transaction=True) as p:
        p.blpop(["nothing"], timeout=0).rpush("nothing", "v").blpop(["nothing"], timeout=0)
        assert p.execute() == [None, 1, ("nothing", "v")]


def test_redis_py_lock_excludes_other_holders(r, make_client):
    """redis-py's Lock (SET NX PX to take it, Lua scripts to release and extend it):
    four threads increment a counter with read-modify-write under the lock; no
    increment is lost, and a lock held by another token cannot be released."""
    import threading

    r.set("counter", 0)

    def work():
        c = make_client()
        for _ in range(25):
            with c.lock("resource", timeout=5, blocking_timeout=10):
                v = int(c.get("counter"))
                c.set("counter", v + 1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert r.get("counter") == "100"

    held = r.lock("other", timeout=5)
    assert held.acquire(blocking=False)
    assert held.extend(5)
    intruder = make_client().lock("other", timeout=5)
    assert not intruder.acquire(blocking=False)
    # The release script refuses a token that does not hold the lock.
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        intruder.do_release(b"not-the-holder")
    assert r.exists("other") == 1
    held.release()
    assert r.exists("other") == 0
