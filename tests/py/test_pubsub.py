"""redis-py pub/sub against MiniRedis the way applications use it: PubSub objects with
get_message and listen, patterns, handlers run in a thread, RESP3 push messages,
keyspace notifications, introspection, and the output-buffer limit."""

import threading
import time

import pytest
import redis


def wait_message(p, timeout=5.0):
    """The next message (not a subscription confirmation), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    return None


def test_subscribe_publish_get_message(r, make_client):
    sub = make_client()
    p = sub.pubsub()
    p.subscribe("news", "alerts")
    confirmations = [p.get_message(timeout=2) for _ in range(2)]
    assert [(m["type"], m["channel"], m["data"]) for m in confirmations] == [
        ("subscribe", "news", 1),
        ("subscribe", "alerts", 2),
    ]
    assert r.publish("news", "hello") == 1
    assert r.publish("nobody", "x") == 0
    m = wait_message(p)
    assert (m["type"], m["channel"], m["data"]) == ("message", "news", "hello")
    assert r.pubsub_channels() in (["news", "alerts"], ["alerts", "news"])
    assert sorted(r.pubsub_channels()) == ["alerts", "news"]
    assert r.pubsub_numsub("news", "nobody") == [("news", 1), ("nobody", 0)]
    p.unsubscribe("news")
    m = p.get_message(timeout=2)
    assert (m["type"], m["channel"], m["data"]) == ("unsubscribe", "news", 1)
    assert r.publish("news", "gone") == 0
    p.close()


def test_patterns_and_listen(r, make_client):
    p = make_client().pubsub(ignore_subscribe_messages=True)
    p.psubscribe("orders.*")
    p.subscribe("orders.eu")
    p.get_message(timeout=2)
    p.get_message(timeout=2)
    assert r.pubsub_numpat() == 1

    def publish():
        time.sleep(0.1)
        r.publish("orders.eu", "1")
        r.publish("orders.us", "2")
        r.publish("payments", "3")
        r.publish("orders.eu", "stop")

    t = threading.Thread(target=publish)
    t.start()
    got = []
    for m in p.listen():
        if m["type"] not in ("message", "pmessage"):
            continue
        got.append((m["type"], m.get("pattern"), m["channel"], m["data"]))
        if m["data"] == "stop" and m["type"] == "pmessage":
            break
    t.join()
    # orders.eu reaches both the channel and the pattern subscription.
    assert got == [
        ("message", None, "orders.eu", "1"),
        ("pmessage", "orders.*", "orders.eu", "1"),
        ("pmessage", "orders.*", "orders.us", "2"),
        ("message", None, "orders.eu", "stop"),
        ("pmessage", "orders.*", "orders.eu", "stop"),
    ]
    p.close()


def test_run_in_thread_with_handlers(r, make_client):
    received = []
    done = threading.Event()

    def handler(message):
        received.append(message["data"])
        if len(received) == 50:
            done.set()

    p = make_client().pubsub()
    p.subscribe(**{"jobs": handler})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        deadline = time.monotonic() + 5
        while r.pubsub_numsub("jobs")[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(50):
            assert r.publish("jobs", str(i)) == 1
        assert done.wait(5), received
        assert received == [str(i) for i in range(50)]
    finally:
        worker.stop()
        worker.join(5)
        p.close()


def test_subscribed_connection_refuses_other_commands_in_resp2(server):
    # A raw connection: redis-py's own PubSub never sends such commands.
    import socket

    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"SUBSCRIBE x\r\nGET k\r\nPING\r\nRESET\r\nGET k\r\n")
    expected = (b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n"
                b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                b"QUIT / RESET are allowed in this context\r\n"
                b"*2\r\n$4\r\npong\r\n$0\r\n\r\n+RESET\r\n$-1\r\n")
    got = b""
    while len(got) < len(expected):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got == expected


def test_resp3_push_messages(server):
    r3 = server.client(protocol=3)
    p = r3.pubsub()
    p.subscribe("r3")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    pub = server.client()
    assert pub.publish("r3", "pushed") == 1
    m = wait_message(p)
    assert (m["type"], m["channel"], m["data"]) == ("message", "r3", "pushed")
    # A RESP3 connection that subscribed may still run ordinary commands.
    p.ping()
    m = p.get_message(timeout=2)
    assert m is not None
    p.close()
    r3.close()
    pub.close()


def test_keyspace_notifications(r, make_client):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
        p = make_client().pubsub(ignore_subscribe_messages=True)
        p.psubscribe("__keyspace@0__:user:*")
        p.subscribe("__keyevent@0__:expired")
        for _ in range(2):
            p.get_message(timeout=2)
        r.set("user:1", "ann")
        r.hset("user:2", "name", "bob")
        r.expire("user:1", 100)
        r.delete("user:2")
        r.set("user:3", "x", px=50)
        events = []
        deadline = time.monotonic() + 5
        while len(events) < 8 and time.monotonic() < deadline:
            m = p.get_message(timeout=0.2)
            if m is not None:
                events.append((m["channel"], m["data"]))
        assert events == [
            ("__keyspace@0__:user:1", "set"),
            ("__keyspace@0__:user:2", "hset"),
            ("__keyspace@0__:user:1", "expire"),
            ("__keyspace@0__:user:2", "del"),
            ("__keyspace@0__:user:3", "set"),
            ("__keyspace@0__:user:3", "expire"),
            # Expired by the server's own cycle, with nobody asking for the key.
            ("__keyspace@0__:user:3", "expired"),
            ("__keyevent@0__:expired", "user:3"),
        ]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_client_list_shows_subscriptions(r, make_client):
    p = make_client().pubsub()
    p.subscribe("a", "b")
    p.psubscribe("c*")
    for _ in range(3):
        p.get_message(timeout=2)
    subs = r.client_list(_type="pubsub")
    assert len(subs) == 1
    assert (subs[0]["sub"], subs[0]["psub"], subs[0]["ssub"]) == ("2", "1", "0")
    assert "P" in subs[0]["flags"]
    assert all(c["id"] != subs[0]["id"] for c in r.client_list(_type="normal"))
    assert r.info("stats")["pubsub_channels"] == 2
    assert r.info("stats")["pubsub_patterns"] == 1
    # CLIENT KILL TYPE pubsub closes exactly that connection.
    assert r.client_kill_filter(_type="pubsub") == 1
    deadline = time.monotonic() + 5
    while r.pubsub_numpat() != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.pubsub_numpat() == 0
    assert r.pubsub_channels() == []


def test_output_buffer_limit_disconnects_a_slow_subscriber(r, server):
    import socket

    assert r.config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit":
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    }
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    try:
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"SUBSCRIBE slow\r\n")
        assert s.recv(100).startswith(b"*3\r\n$9\r\nsubscribe")
        # Never read again; publish 8 MB.
        chunk = "x" * 65536
        delivered = sum(r.publish("slow", chunk) for _ in range(128))
        assert delivered < 128
        assert r.pubsub_numsub("slow") == [("slow", 0)]
        s.close()
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
