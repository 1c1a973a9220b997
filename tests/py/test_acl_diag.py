"""redis-py with ACL users and the diagnostics commands: a restricted user cannot run
commands outside its rules nor touch keys outside its patterns, rights change under
connected clients, the ACL log records denials; SLOWLOG, LATENCY, MEMORY USAGE and
MONITOR through redis-py's own helpers."""

import threading
import time

import pytest
import redis


@pytest.fixture
def users(r):
    yield r
    for name in r.acl_users():
        if name != "default":
            r.acl_deluser(name)
    r.acl_log_reset()


def test_restricted_user_cannot_run_or_touch_outside_its_rules(users, server):
    r = users
    assert r.acl_setuser("app", enabled=True, passwords=["+apppw"],
                         keys=["app:*", "%R~shared:*"], commands=["+@read", "+set", "+del", "+acl|whoami"])
    r.set("shared:conf", "x")
    r.set("secret", "s")
    app = server.client(username="app", password="apppw")
    assert app.acl_whoami() == "app"
    assert app.set("app:1", "v")
    assert app.get("app:1") == "v"
    assert app.get("shared:conf") == "x"
    with pytest.raises(redis.exceptions.NoPermissionError, match="keys used as arguments"):
        app.get("secret")
    with pytest.raises(redis.exceptions.NoPermissionError, match="keys used as arguments"):
        app.set("shared:conf", "overwrite")
    with pytest.raises(redis.exceptions.NoPermissionError, match="run the 'flushall' command"):
        app.flushall()
    with pytest.raises(redis.exceptions.NoPermissionError, match="run the 'incrby' command"):
        app.incr("app:n")
    assert r.get("shared:conf") == "x" and r.get("secret") == "s"
    # Denials are in the ACL log, newest first.
    log = r.acl_log()
    assert [e["reason"] for e in log[:2]] == ["command", "command"]
    assert {e["object"] for e in log} >= {"secret", "flushall", "incrby", "shared:conf"}
    assert all(e["username"] == "app" for e in log)
    app.close()


def test_wrong_password_and_disabled_user(users, server):
    r = users
    r.acl_setuser("u", enabled=True, passwords=["+pw"], commands=["+ping"])
    with pytest.raises(redis.exceptions.AuthenticationError):
        server.client(username="u", password="bad").ping()
    assert server.client(username="u", password="pw").ping()
    r.acl_setuser("u", enabled=False)
    with pytest.raises(redis.exceptions.AuthenticationError):
        server.client(username="u", password="pw").ping()
    assert r.acl_log()[0]["reason"] == "auth"


def test_rights_change_under_a_connected_client(users, server):
    r = users
    r.acl_setuser("w", enabled=True, nopass=True, keys=["*"], commands=["+get"])
    w = server.client(username="w", password="x")
    assert w.get("k") is None
    r.acl_setuser("w", commands=["-get"])
    with pytest.raises(redis.exceptions.NoPermissionError):
        w.get("k")
    r.acl_setuser("w", commands=["+get"])
    assert w.get("k") is None
    # Deleting the user closes its connection.
    r.acl_deluser("w")
    with pytest.raises(redis.exceptions.ConnectionError):
        w.get("k")
        w.get("k")


def test_getuser_and_dryrun(users):
    r = users
    r.acl_setuser("d", enabled=True, passwords=["+x"], keys=["~a*"], commands=["+@string", "-incr"])
    u = r.acl_getuser("d")
    assert "on" in u["flags"]
    assert u["keys"] == ["a*"] or u["keys"] == "~a*" or "~a*" in str(u["keys"])
    assert r.execute_command("ACL", "DRYRUN", "d", "GET", "a1") == "OK"
    assert "no permissions to run the 'incr'" in r.execute_command("ACL", "DRYRUN", "d", "INCR", "a1")
    assert "user d on #" in " ".join(r.acl_list())
    assert len(r.acl_genpass()) == 64


def test_slowlog_through_redis_py(r):
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.set("x", "y" * 300)
        entries = r.slowlog_get(2)
        set_entry = entries[0]
        command = set_entry["command"]
        if isinstance(command, bytes):
            command = command.decode()
        assert command == "SET x " + "y" * 128 + "... (172 more bytes)"
        assert set_entry["duration"] >= 0
        assert r.slowlog_len() >= 2
    finally:
        r.config_set("slowlog-log-slower-than", 10000)


def test_memory_usage_and_latency(r):
    r.set("k", "v" * 100)
    assert r.memory_usage("k") > 100
    assert r.memory_usage("missing") is None
    assert r.execute_command("LATENCY", "LATEST") == []
    assert "Latency monitoring is disabled" in r.execute_command("LATENCY", "DOCTOR")


def test_monitor_streams_other_clients_commands(server):
    r = server.client()
    got = []
    ready = threading.Event()

    def watch():
        with server.client().monitor() as m:
            ready.set()
            for cmd in m.listen():
                got.append(cmd)
                if cmd["command"] == "ECHO done":
                    return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.2)
    r.set("mk", "mv")
    r.echo("done")
    t.join(5)
    assert not t.is_alive(), f"monitor saw {got}"
    commands = [c["command"] for c in got]
    assert "SET mk mv" in commands
    assert all(c["db"] == 0 for c in got)
