"""redis-py against MiniRedis with every data type, the way applications use them: a
job queue with blocking workers, a leaderboard, sessions in hashes, tags in sets, an
event stream with a consumer group, geo lookups, unique counting and bit flags."""

import threading
import time

import pytest
import redis


def test_job_queue_with_blocking_workers(r, make_client):
    """Producers LPUSH jobs, workers BRPOP them: every job is taken exactly once."""
    done = []
    lock = threading.Lock()

    def worker():
        c = make_client()
        while True:
            item = c.brpop(["jobs", "control"], timeout=5)
            assert item is not None, "a worker waited 5 s for a job"
            key, value = item
            if key == "control":
                return
            with lock:
                done.append(value)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for w in workers:
        w.start()
    for i in range(200):
        r.lpush("jobs", f"job:{i}")
    deadline = time.time() + 10
    while len(done) < 200 and time.time() < deadline:
        time.sleep(0.01)
    r.rpush("control", *["stop"] * len(workers))
    for w in workers:
        w.join(timeout=10)
    assert sorted(done) == sorted(f"job:{i}" for i in range(200))
    assert r.llen("jobs") == 0


def test_reliable_queue_with_blmove(r, make_client):
    results = {}

    def take():
        results["moved"] = make_client().blmove("incoming", "processing", 5, "RIGHT", "LEFT")

    t = threading.Thread(target=take)
    t.start()
    time.sleep(0.1)
    r.lpush("incoming", "task")
    t.join(timeout=10)
    assert results["moved"] == "task"
    assert r.lrange("processing", 0, -1) == ["task"]
    assert r.blpop("nothing", timeout=0.1) is None


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert r.lindex("l", -1) == "c"
    assert r.linsert("l", "BEFORE", "b", "x") == 5
    assert r.lpos("l", "x") == 2
    assert r.lrem("l", 0, "x") == 1
    assert r.lset("l", 0, "y") is True
    assert r.ltrim("l", 0, 1) is True
    assert r.lrange("l", 0, -1) == ["y", "a"]
    assert r.lpop("l", 5) == ["y", "a"]
    assert r.exists("l") == 0
    assert r.lmpop(2, "none", "l2", direction="LEFT") is None


def test_sessions_in_hashes(r):
    r.hset("session:1", mapping={"user": "ann", "visits": 1, "cart": "[]"})
    assert r.hgetall("session:1") == {"user": "ann", "visits": "1", "cart": "[]"}
    assert r.hincrby("session:1", "visits", 2) == 3
    assert r.hincrbyfloat("session:1", "score", 1.5) == 1.5
    assert r.hmget("session:1", ["user", "nope"]) == ["ann", None]
    assert r.hsetnx("session:1", "user", "bob") == 0
    assert r.hexists("session:1", "cart")
    assert r.hdel("session:1", "cart", "nope") == 1
    assert sorted(r.hkeys("session:1")) == ["score", "user", "visits"]
    assert r.hlen("session:1") == 3
    assert r.hstrlen("session:1", "user") == 3
    assert r.hrandfield("session:1") in {"score", "user", "visits"}
    assert dict(r.hscan_iter("session:1")) == r.hgetall("session:1")
    assert r.object("encoding", "session:1") == "listpack"
    r.hset("big", mapping={f"f{i}": i for i in range(1000)})
    assert r.object("encoding", "big") == "hashtable"
    assert len(dict(r.hscan_iter("big", count=50))) == 1000


def test_tags_in_sets(r):
    assert r.sadd("tags:a", "red", "green", "blue") == 3
    assert r.sadd("tags:b", "green", "black") == 2
    assert r.sinter("tags:a", "tags:b") == {"green"}
    assert r.sunion("tags:a", "tags:b") == {"red", "green", "blue", "black"}
    assert r.sdiff("tags:a", "tags:b") == {"red", "blue"}
    assert r.sintercard(2, ["tags:a", "tags:b"]) == 1
    assert r.sismember("tags:a", "red")
    assert r.smismember("tags:a", ["red", "black"]) == [1, 0]
    assert r.smove("tags:a", "tags:b", "red")
    assert r.scard("tags:b") == 3
    assert r.sinterstore("both", ["tags:a", "tags:b"]) == 1
    assert set(r.sscan_iter("tags:b")) == {"green", "black", "red"}
    popped = r.spop("tags:b", 3)
    assert set(popped) == {"green", "black", "red"}
    assert r.exists("tags:b") == 0
    r.sadd("ints", *range(10))
    assert r.object("encoding", "ints") == "intset"


def test_leaderboard(r):
    r.zadd("board", {"ann": 10, "bob": 25, "cid": 17})
    assert r.zincrby("board", 10, "ann") == 20.0
    assert r.zrevrange("board", 0, 1, withscores=True) == [("bob", 25.0), ("ann", 20.0)]
    assert r.zrank("board", "cid") == 0
    assert r.zrevrank("board", "cid") == 2
    assert r.zscore("board", "ann") == 20.0
    assert r.zcount("board", 18, "+inf") == 2
    assert r.zrangebyscore("board", "(17", 25) == ["ann", "bob"]
    assert r.zadd("board", {"ann": 5}, gt=True) == 0
    assert r.zscore("board", "ann") == 20.0
    assert r.zpopmax("board") == [("bob", 25.0)]
    assert r.zmscore("board", ["ann", "nope"]) == [20.0, None]
    r.zadd("other", {"ann": 1, "dan": 2})
    assert r.zunionstore("sum", ["board", "other"]) == 3
    assert r.zrange("sum", 0, -1, withscores=True) == [("dan", 2.0), ("cid", 17.0), ("ann", 21.0)]
    assert r.bzpopmin("none", timeout=0.1) is None


def test_event_stream_with_a_consumer_group(r):
    ids = [r.xadd("events", {"n": i}) for i in range(5)]
    assert r.xlen("events") == 5
    assert [e[0] for e in r.xrange("events")] == ids
    r.xgroup_create("events", "workers", id="0")
    got = r.xreadgroup("workers", "w1", {"events": ">"}, count=3)
    assert [e[0] for e in got[0][1]] == ids[:3]
    assert r.xack("events", "workers", ids[0]) == 1
    pending = r.xpending("events", "workers")
    assert pending["pending"] == 2
    claimed = r.xautoclaim("events", "workers", "w2", min_idle_time=0, start_id="0")
    assert [e[0] for e in claimed[1]] == ids[1:3]
    assert r.xtrim("events", maxlen=2, approximate=False) == 3
    info = r.xinfo_stream("events")
    assert info["length"] == 2
    assert r.xread({"events": ids[-1]}, block=100) in ([], None)


def test_blocking_xread_is_woken(r, make_client):
    r.xadd("feed", {"a": 1}, id="1-0")
    result = {}

    def reader():
        result["got"] = make_client().xread({"feed": "$"}, block=5000)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    r.xadd("feed", {"b": 2}, id="2-0")
    t.join(timeout=10)
    assert result["got"] == [["feed", [("2-0", {"b": "2"})]]]


def test_geo(r):
    assert r.geoadd("places", [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"]) == 2
    assert r.geodist("places", "Palermo", "Catania", unit="km") == pytest.approx(166.2742, abs=1e-3)
    assert r.geohash("places", "Palermo") == ["sqc8b49rny0"]
    found = r.geosearch("places", longitude=15, latitude=37, radius=200, unit="km", sort="ASC")
    assert found == ["Catania", "Palermo"]


def test_unique_counting_and_bits(r):
    assert r.pfadd("visitors", *[f"user:{i}" for i in range(1000)]) == 1
    assert abs(r.pfcount("visitors") - 1000) <= 20
    r.pfadd("visitors2", "user:1", "other")
    assert r.pfmerge("all", "visitors", "visitors2") is True
    assert r.setbit("flags", 7, 1) == 0
    assert r.getbit("flags", 7) == 1
    assert r.bitcount("flags") == 1
    assert r.bitpos("flags", 1) == 7
    assert r.bitfield("counters").incrby("u8", 0, 200).incrby("u8", 0, 100).execute() == [200, 44]


def test_wrong_type_errors(r):
    r.set("s", "x")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        r.lpush("s", "a")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        r.hset("s", "f", "v")
    assert r.type("s") == "string"
