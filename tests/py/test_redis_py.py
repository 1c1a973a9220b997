"""redis-py against MiniRedis: basic commands, pipelines (without MULTI), scan_iter,
expiry, RESP3, CLIENT SETNAME/LIST parsing, INFO parsing and CONFIG GET."""

import time

import pytest
import redis


def test_ping_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == "hello"


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True) is True
    assert r.set("k", "x", get=True) == "w"
    assert r.getset("k", "y") == "x"
    assert r.getdel("k") == "y"
    assert r.exists("k") == 0
    assert r.setnx("n", "1") is True
    assert r.setnx("n", "2") is False
    assert r.append("s", "hello") == 5
    assert r.append("s", " world") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", 0, 4) == "hello"
    assert r.setrange("s", 6, "there") == 11
    assert r.get("s") == "hello there"
    assert r.lcs("s", "s") == "hello there"


def test_counters(r):
    assert r.incr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decr("c") == 10
    assert r.decrby("c", 4) == 6
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.incrbyfloat("f", 0.25) == 1.75
    r.set("big", 9223372036854775807)
    with pytest.raises(redis.exceptions.ResponseError, match="overflow"):
        r.incr("big")
    r.set("word", "abc")
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        r.incr("word")


def test_multi_key(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget(["a", "missing", "b"]) == ["1", None, "2"]
    assert r.msetnx({"b": "x", "c": "3"}) is False
    assert r.get("c") is None
    assert r.delete("a", "b", "missing") == 2
    assert r.unlink("nothing") == 0


def test_generic_keys(r):
    r.mset({"user:1": "a", "user:2": "b", "item:1": "c"})
    assert sorted(r.keys("user:*")) == ["user:1", "user:2"]
    assert r.type("user:1") == "string"
    assert r.type("missing") == "none"
    assert r.rename("user:1", "user:9") is True
    assert r.renamenx("user:9", "user:2") is False
    assert r.copy("user:2", "user:3") is True
    assert r.get("user:3") == "b"
    assert r.touch("user:2", "user:3", "missing") == 2
    assert r.dbsize() == 4
    assert r.randomkey() in {"user:9", "user:2", "user:3", "item:1"}
    assert r.object("encoding", "user:2") == "embstr"
    assert r.move("item:1", 1) is True
    assert r.exists("item:1") == 0
    assert r.swapdb(0, 1) is True
    assert r.get("item:1") == "c"
    assert r.flushdb() is True
    assert r.dbsize() == 0


def test_pipeline_without_transaction(r):
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"k{i}", i)
        for i in range(1000):
            p.get(f"k{i}")
        results = p.execute()
    assert results[:1000] == [True] * 1000
    assert results[1000:] == [str(i) for i in range(1000)]
    assert r.dbsize() == 1000


def test_pipeline_reports_errors_in_place(r):
    r.set("word", "abc")
    with r.pipeline(transaction=False) as p:
        p.incr("n")
        p.incr("word")
        p.get("n")
        results = p.execute(raise_on_error=False)
    assert results[0] == 1
    assert isinstance(results[1], redis.exceptions.ResponseError)
    assert results[2] == "1"


def test_scan_iter(r):
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set(f"user:{i}", i)
            p.set(f"item:{i}", i)
        p.execute()
    users = set(r.scan_iter(match="user:*", count=50))
    assert users == {f"user:{i}" for i in range(500)}
    assert len(set(r.scan_iter())) == 1000
    assert len(set(r.scan_iter(_type="string", count=1000))) == 1000
    assert set(r.scan_iter(_type="list")) == set()


def test_expiry(r):
    r.set("short", "v", ex=1)
    r.set("long", "v", ex=1000)
    r.set("ms", "v", px=200)
    assert r.ttl("short") in (0, 1)
    assert 998 <= r.ttl("long") <= 1000
    assert 0 < r.pttl("ms") <= 200
    assert r.expiretime("long") >= int(time.time()) + 998
    time.sleep(1.1)
    assert r.get("short") is None
    assert r.get("ms") is None
    assert r.exists("short", "ms") == 0
    assert r.ttl("short") == -2
    assert r.persist("long") is True
    assert r.ttl("long") == -1
    assert r.expire("long", 100, nx=True) is True
    assert r.expire("long", 50, gt=True) is False
    assert r.getex("long", persist=True) == "v"
    assert r.ttl("long") == -1


def test_resp3(server):
    c = server.client(protocol=3)
    try:
        c.flushall()
        assert c.set("k", "v") is True
        assert c.get("k") == "v"
        assert c.get("missing") is None
        assert c.mget(["k", "missing"]) == ["v", None]
        cfg = c.config_get("maxmemory")
        assert cfg == {"maxmemory": "0"}
        hello = c.execute_command("HELLO", 3)
        assert hello["proto"] == 3
        assert "version" in hello
        info = c.client_info()
        assert info["resp"] == "3"
        assert c.lcs("k", "k", idx=True)["len"] == 1
    finally:
        c.close()


def test_client_setname_and_list(server):
    c = server.client()
    other = server.client()
    try:
        assert c.client_setname("pytest-conn") is True
        assert c.client_getname() == "pytest-conn"
        other.client_setname("second")
        my_id = c.client_id()
        assert isinstance(my_id, int)
        clients = c.client_list()
        names = {cl["name"] for cl in clients}
        assert {"pytest-conn", "second"} <= names
        mine = [cl for cl in clients if cl["name"] == "pytest-conn"]
        assert len(mine) == 1
        assert mine[0]["id"] == str(my_id)
        for field in ("addr", "laddr", "fd", "age", "idle", "flags", "db", "cmd", "resp"):
            assert field in mine[0], field
        assert mine[0]["cmd"] == "client|list"
        assert c.client_info()["name"] == "pytest-conn"
        with pytest.raises(redis.exceptions.ResponseError):
            c.client_setname("has space")
    finally:
        c.close()
        other.close()


def test_info_parsing(r, server):
    r.set("a", "1")
    r.set("b", "2", ex=1000)
    info = r.info()
    for key in ("redis_version", "tcp_port", "connected_clients", "used_memory", "uptime_in_seconds"):
        assert key in info, key
    assert info["tcp_port"] == server.port
    assert isinstance(info["connected_clients"], int)
    assert info["connected_clients"] >= 1
    assert isinstance(info["used_memory"], int)
    assert info["db0"]["keys"] == 2
    assert info["db0"]["expires"] == 1
    keyspace = r.info("keyspace")
    assert keyspace["db0"]["keys"] == 2
    server_section = r.info("server")
    assert "redis_version" in server_section
    assert "used_memory" not in server_section
    stats = r.info("stats")
    assert isinstance(stats["total_commands_processed"], int)


def test_config_get_set(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_set("maxmemory-policy", "allkeys-lru") is True
    try:
        both = r.config_get("maxmemory*")
        assert both["maxmemory-policy"] == "allkeys-lru"
        assert both["maxmemory"] == "0"
    finally:
        r.config_set("maxmemory-policy", "noeviction")
    assert r.config_get("no-such-parameter") == {}
    with pytest.raises(redis.exceptions.ResponseError):
        r.config_set("no-such-parameter", "1")


def test_binary_values(server):
    c = server.client(decode_responses=False)
    try:
        blob = bytes(range(256))
        assert c.set(b"\x00key", blob) is True
        assert c.get(b"\x00key") == blob
        assert c.strlen(b"\x00key") == 256
    finally:
        c.close()


def test_select_databases(server):
    c = server.client(db=3)
    try:
        c.flushdb()
        c.set("in3", "yes")
        assert c.get("in3") == "yes"
        assert server.client(db=0).get("in3") is None
    finally:
        c.close()
