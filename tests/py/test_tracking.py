"""redis-py with client-side caching (CLIENT TRACKING): RESP2 invalidations redirected
to a subscriber of __redis__:invalidate, RESP3 invalidation pushes read by a push
handler (redis-py's own client cache needs Redis 7.4), BCAST prefixes, and the
tracking-redir-broken push when the redirect target goes away."""

import time

import redis


def wait_message(p, timeout=3.0):
    """The next pub/sub message (not a subscribe confirmation) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "message":
            return m
    return None


def subscriber_id(r):
    """The id of the connection subscribed to __redis__:invalidate."""
    for c in r.client_list():
        if c.get("cmd") == "subscribe":
            return int(c["id"])
    raise AssertionError(f"no subscriber in {r.client_list()}")


def test_resp2_redirect_to_a_subscriber(server, r):
    # RESP2 on every connection (redis-py 8 speaks RESP3 by default).
    r = server.client(protocol=2)
    p = r.pubsub()
    p.subscribe("__redis__:invalidate")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    sid = subscriber_id(r)
    t = server.client(protocol=2, single_connection_client=True)
    assert t.client_tracking_on(clientid=sid)
    assert t.client_getredir() == sid
    assert t.get("k") is None
    assert t.hget("h", "f") is None
    r.set("k", "v")
    m = wait_message(p)
    assert m["channel"] == "__redis__:invalidate"
    assert m["data"] == ["k"]
    r.hset("h", "f", "1")
    assert wait_message(p)["data"] == ["h"]
    # Forgotten once told: a second write says nothing.
    r.set("k", "v2")
    assert wait_message(p, timeout=0.3) is None
    # CLIENT LIST shows the flag and the redirection.
    me = [c for c in r.client_list() if c.get("redir") == str(sid)]
    assert len(me) == 1 and "t" in me[0]["flags"]
    assert r.info("clients")["tracking_clients"] == 1
    # FLUSHALL: a null, meaning every key.
    t.get("k")
    r.flushall()
    m = wait_message(p)
    assert m["data"] is None
    t.client_tracking_off()
    assert t.client_getredir() == -1
    assert r.info("clients")["tracking_clients"] == 0
    p.close()
    t.close()
    r.close()


def test_resp3_push_handler(server, r):
    t = server.client(protocol=3, single_connection_client=True)
    pushes = []
    t.connection._parser.set_invalidation_push_handler(pushes.append)
    assert t.client_tracking_on()
    t.set("mine", "1")
    assert t.get("k") is None
    assert t.mget("a", "b") == [None, None]
    r.set("k", "v")
    r.mset({"a": "1", "b": "2"})
    # Pushes are read before the next reply.
    deadline = time.monotonic() + 3
    while len(pushes) < 3 and time.monotonic() < deadline:
        t.ping()
        time.sleep(0.02)
    assert [x[1] for x in pushes] == [["k"], ["a"], ["b"]]
    stats = r.info("stats")
    assert stats["tracking_total_keys"] == 0
    # Its own writes are told too, unless NOLOOP.
    t.get("mine")
    t.set("mine", "2")
    t.ping()
    assert pushes[-1][1] == ["mine"]
    assert t.client_tracking_on(noloop=True)
    t.get("mine")
    t.set("mine", "3")
    t.ping()
    assert len(pushes) == 4
    # The entry is dropped all the same.
    assert r.info("stats")["tracking_total_keys"] == 0
    t.close()


def test_bcast_prefixes(server, r):
    t = server.client(protocol=3, single_connection_client=True)
    pushes = []
    t.connection._parser.set_invalidation_push_handler(pushes.append)
    assert t.client_tracking_on(bcast=True, prefix=["user:", "obj:"])
    info = t.client_trackinginfo()
    assert sorted(info["prefixes"]) == ["obj:", "user:"]
    r.mset({"user:1": "a", "user:2": "b", "other": "c", "obj:9": "d"})
    deadline = time.monotonic() + 3
    while len(pushes) < 2 and time.monotonic() < deadline:
        t.ping()
        time.sleep(0.02)
    assert [x[1] for x in pushes] == [["obj:9"], ["user:1", "user:2"]]
    assert r.info("stats")["tracking_total_prefixes"] == 2
    t.close()


def test_broken_redirect(server, r):
    other = server.client(single_connection_client=True)
    oid = other.client_id()
    t = server.client(protocol=3, single_connection_client=True)
    pushes = []
    t.connection._parser.set_invalidation_push_handler(pushes.append)
    t.connection._parser.pubsub_push_handler_func = pushes.append
    assert t.client_tracking_on(clientid=oid)
    t.get("k")
    other.close()
    deadline = time.monotonic() + 3
    while any(c["id"] == str(oid) for c in r.client_list()) and time.monotonic() < deadline:
        time.sleep(0.02)
    r.set("k", "v")
    flags = t.client_trackinginfo()["flags"]
    assert "broken_redirect" in flags, flags
    t.close()


def test_argument_errors(r):
    for args, text in [
        (("on", "prefix", "a"), "PREFIX option requires BCAST mode to be enabled"),
        (("on", "optin", "optout"), "You can't specify both OPTIN mode and OPTOUT mode"),
        (("on", "redirect", "999999"), "The client ID you want redirect to does not exist"),
    ]:
        try:
            r.execute_command("CLIENT", "TRACKING", *args)
            raise AssertionError(f"{args} accepted")
        except redis.ResponseError as e:
            assert text in str(e)
