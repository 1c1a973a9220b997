"""redis-py with TAG, MiniRedis's tag-based invalidation (an extension command family:
there is no Redis counterpart, so under MINIREDIS_SUBJECT=redis this module is skipped
with a reason). A cache stores pages tagged with what they were built from and drops
every page of a tag at once."""

import os
import threading
import time

import pytest
import redis

pytestmark = pytest.mark.skipif(
    os.environ.get("MINIREDIS_SUBJECT", "").lower() == "redis",
    reason="TAG is a MiniRedis extension that redis-server does not have")


def tag(r, *args):
    return r.execute_command("TAG", *args)


def cache_page(r, page, html, ttl, *tags):
    """SET with a TTL and TAG ADD in one transaction: no reader sees an untagged page."""
    with r.pipeline(transaction=True) as p:
        p.set(page, html, ex=ttl)
        p.execute_command("TAG", "ADD", page, *tags)
        return p.execute()


def test_cache_invalidation_by_tag(r):
    for i in range(30):
        assert cache_page(r, f"page:{i}", f"<p>{i}</p>", 300,
                          f"product:{i % 3}", "pages") == [True, 2]
    assert tag(r, "GET", "page:4") == ["product:1", "pages"]
    assert tag(r, "COUNT", "product:1") == 10
    assert sorted(tag(r, "KEYS", "product:2")) == sorted(f"page:{i}" for i in range(2, 30, 3))
    assert sorted(tag(r, "LIST")) == ["pages", "product:0", "product:1", "product:2"]
    assert tag(r, "LIST", "product:*") == sorted(tag(r, "LIST", "product:*"))
    assert tag(r, "INVALIDATE", "product:1", "product:2") == 20
    assert r.dbsize() == 10
    assert r.get("page:4") is None
    assert r.get("page:3") == "<p>3</p>"
    assert tag(r, "COUNT", "pages") == 10
    assert tag(r, "INVALIDATE", "product:1") == 0
    assert tag(r, "GET", "page:4") == []


def test_add_remove_and_missing_keys(r):
    assert tag(r, "ADD", "nokey", "t") == 0
    r.set("k", "v")
    assert tag(r, "ADD", "k", "a", "b", "a") == 2
    assert tag(r, "REMOVE", "k", "a", "zz") == 1
    assert tag(r, "GET", "k") == ["b"]
    assert tag(r, "REMOVE", "nokey", "a") == 0
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'tag|add'"):
        tag(r, "ADD", "k")
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'NOPE'"):
        tag(r, "NOPE")
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        tag(r, "SCAN", "b", "x")
    assert tag(r, "HELP")[0].startswith("TAG <subcommand>")


def test_scan_iterates_every_key_once(r):
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set(f"s:{i}", i)
            p.execute_command("TAG", "ADD", f"s:{i}", "big")
        p.execute()
    seen = []
    cursor = 0
    while True:
        cursor, keys = tag(r, "SCAN", "big", cursor, "COUNT", 25)
        cursor = int(cursor)
        seen.extend(keys)
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"s:{i}" for i in range(500))
    cursor, keys = tag(r, "SCAN", "big", 0, "MATCH", "s:1?", "COUNT", 1000)
    assert (cursor, sorted(keys)) == ("0", sorted(f"s:{i}" for i in range(10, 20)))


def test_tags_follow_ttl_rules_rename_and_expiry(r):
    r.set("a", "1")
    tag(r, "ADD", "a", "t")
    r.set("a", "2", keepttl=True)
    assert tag(r, "GET", "a") == ["t"], "KEEPTTL keeps the tags"
    r.append("a", "x")
    r.expire("a", 100)
    assert tag(r, "GET", "a") == ["t"], "in-place writes keep them"
    r.rename("a", "b")
    assert tag(r, "GET", "b") == ["t"] and tag(r, "KEYS", "t") == ["b"]
    r.copy("b", "c")
    assert tag(r, "GET", "c") == ["t"]
    r.set("b", "new")
    assert tag(r, "GET", "b") == [], "an overwrite drops them, as it drops the TTL"
    r.move("c", 1)
    assert tag(r, "COUNT", "t") == 0
    r.set("short", "v", px=100)
    tag(r, "ADD", "short", "t")
    assert tag(r, "COUNT", "t") == 1
    time.sleep(0.25)
    assert tag(r, "COUNT", "t") == 0, "expired keys leave their tags"
    assert tag(r, "KEYS", "t") == []


def test_resp3_client(server):
    c = server.client(protocol=3)
    try:
        c.flushall()
        c.set("k", "v")
        assert c.execute_command("TAG", "ADD", "k", "x", "y") == 2
        assert c.execute_command("TAG", "GET", "k") == ["x", "y"]
        assert c.execute_command("TAG", "KEYS", "x") == ["k"]
        assert c.execute_command("TAG", "INVALIDATE", "y") == 1
        # "COMMAND DOCS" as one name: redis-py would parse the reply as COMMAND's.
        docs = c.execute_command("COMMAND DOCS", "tag")
        subs = docs["tag"]["subcommands"]
        assert set(subs) >= {"tag|add", "tag|get", "tag|keys", "tag|invalidate"}
        assert "atomically" in subs["tag|invalidate"]["summary"]
    finally:
        c.close()


def test_invalidation_is_atomic_for_readers(r, make_client):
    keys = [f"c:{i}" for i in range(40)]
    stop = threading.Event()
    errors = []
    seen = {"full": 0, "empty": 0}

    def reader():
        c = make_client()
        while not stop.is_set():
            values = c.mget(keys)
            present = sum(v is not None for v in values)
            if present not in (0, len(keys)):
                errors.append(f"saw {present} of {len(keys)}")
                return
            seen["full" if present else "empty"] += 1

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for round_ in range(60):
        with r.pipeline(transaction=True) as p:
            for k in keys:
                p.set(k, round_)
                p.execute_command("TAG", "ADD", k, "grp")
            p.execute()
        time.sleep(0.001)
        assert tag(r, "INVALIDATE", "grp") == len(keys)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert seen["full"] > 0 and seen["empty"] > 0, seen
