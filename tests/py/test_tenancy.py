"""Two tenant databases in one `miniredis server`, driven by redis-py: through their
own ports and through the front door, with every isolation rule tried.

MiniRedis only: the front door and the node manager have no Redis counterpart, so in
the self-test mode (MINIREDIS_SUBJECT=redis) this module is deselected by its marker
check below rather than compared.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

if os.environ.get("MINIREDIS_SUBJECT", "").lower() == "redis":
    pytest.skip("multi-tenancy is MiniRedis's own: nothing to compare with Redis",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_range(n):
    """`n` consecutive free loopback ports below the kernel's ephemeral range, so no
    client socket is handed one of them as its local port in the meantime."""
    import random
    for _ in range(1000):
        base = random.randrange(20000, 32000 - n)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError(f"no {n} consecutive free ports")


class Platform:
    def __init__(self):
        binary = os.environ.get("MINIREDIS_BIN")
        if not binary:
            pytest.fail("MINIREDIS_BIN is not set (scripts/test.sh sets it)")
        self.dir = tempfile.mkdtemp(prefix="miniredis-pytest-tenancy-")
        self.front = free_port()
        base = free_range(4)
        self.ports = {"alpha": base, "beta": base + 1}
        conf = os.path.join(self.dir, "miniredis.toml")
        with open(conf, "w") as f:
            f.write(f'front_door_port = {self.front}\ndata_dir = "{self.dir}/data"\n')
            f.write(f"port_start = {base}\nport_end = {base + 3}\n")
            f.write(f'[[database]]\nname = "alpha"\npassword = "pa"\nport = {base}\n')
            f.write(f'[[database]]\nname = "beta"\npassword = "pb"\nport = {base + 1}\n')
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_PORT_START", "REDIS_PORT_END")}
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([binary, "server", "--config", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.db("alpha").ping() and self.door("beta").ping():
                    break
            except redis.exceptions.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"miniredis server did not start: {open(self.log.name).read()[-3000:]}")
            time.sleep(0.05)

    def db(self, name, **kw):
        pw = {"alpha": "pa", "beta": "pb"}[name]
        return redis.Redis(host="127.0.0.1", port=self.ports[name], password=pw,
                           decode_responses=True, socket_timeout=10, **kw)

    def door(self, name, password=None, **kw):
        pw = password or {"alpha": "pa", "beta": "pb"}[name]
        return redis.Redis(host="127.0.0.1", port=self.front, username=name, password=pw,
                           decode_responses=True, socket_timeout=10, **kw)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def platform():
    p = Platform()
    yield p
    p.close()


def test_same_database_on_its_port_and_the_front_door(platform):
    a, b = platform.db("alpha"), platform.db("beta")
    a.flushall()
    b.flushall()
    a.set("k", "alpha")
    b.set("k", "beta")
    assert platform.door("alpha").get("k") == "alpha"
    assert platform.door("beta").get("k") == "beta"
    # RESP3 through the front door: HELLO 3 AUTH <database> <password>.
    r3 = platform.door("beta", protocol=3)
    assert r3.get("k") == "beta"
    assert r3.execute_command("HELLO", "3")["proto"] == 3


def test_front_door_refuses_before_auth_and_wrong_credentials(platform):
    anon = redis.Redis(host="127.0.0.1", port=platform.front, decode_responses=True)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anon.get("k")
    for user, pw in (("alpha", "pb"), ("nosuch", "pa"), ("beta", "pa")):
        with pytest.raises(redis.exceptions.AuthenticationError):
            platform.door(user, password=pw).ping()
    # A database's own port does not open the other one.
    c = redis.Redis(host="127.0.0.1", port=platform.ports["alpha"], username="beta",
                    password="pb", decode_responses=True)
    with pytest.raises(redis.exceptions.AuthenticationError):
        c.ping()


def test_isolation(platform):
    a, b = platform.db("alpha"), platform.db("beta")
    a.flushall()
    b.flushall()
    for db in range(16):
        bb = platform.db("beta", db=db)
        bb.set("secret", db)
    assert a.keys("*") == []
    assert a.get("secret") is None
    assert a.scan(0, count=1000)[1] == []
    a.flushall()
    a.flushdb()
    a.swapdb(0, 1)
    assert b.dbsize() == 1
    assert sum(1 for _ in b.info("keyspace")) == 16
    clients = a.client_list()
    assert all(c["laddr"].endswith(str(platform.ports["alpha"])) or c["laddr"].endswith(str(platform.front))
               for c in clients)
    # Killing by beta's id or address from alpha cannot reach beta's connection (ids
    # are per database: the same number may name one of alpha's own clients).
    b_id = b.client_id()
    b_addr = b.client_info()["addr"]
    assert b_addr not in [c["addr"] for c in clients]
    try:
        a.client_kill_filter(_id=b_id, skipme=True)
    except redis.exceptions.ResponseError:
        pass
    try:
        a.client_kill(b_addr)
    except redis.exceptions.ResponseError:
        pass
    assert b.client_id() == b_id, "beta's connection survived"
    for param, value in (("maxmemory", "1"), ("requirepass", "x"), ("port", "1"), ("dir", "/"),
                         ("maxclients", "1"), ("io-threads", "1")):
        with pytest.raises(redis.exceptions.ResponseError, match="CONFIG SET failed"):
            a.config_set(param, value)
    with pytest.raises(redis.exceptions.ResponseError, match="not allowed"):
        a.execute_command("SHUTDOWN")
    with pytest.raises(redis.exceptions.ResponseError, match="not allowed"):
        a.execute_command("DEBUG", "SLEEP", "0")
    assert b.ping()
    assert b.dbsize() == 1


def test_acl_users_are_per_database(platform):
    """A tenant manages users inside its own database: they log in on its port and,
    after the database's AUTH, through the front door; the other database has none of
    them; the default user's credentials stay the operator's."""
    a, b = platform.db("alpha"), platform.db("beta")
    a.flushall()
    a.set("app:1", "v")
    a.set("secret", "s")
    assert a.acl_setuser("app", enabled=True, passwords=["+apppw"], keys=["app:*"],
                         commands=["+get", "+acl|whoami"])
    assert "app" in a.acl_users()
    assert "app" not in b.acl_users()
    own = redis.Redis(host="127.0.0.1", port=platform.ports["alpha"], username="app",
                      password="apppw", decode_responses=True, socket_timeout=10)
    assert own.acl_whoami() == "app"
    assert own.get("app:1") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError):
        own.get("secret")
    with pytest.raises(redis.exceptions.NoPermissionError):
        own.set("app:1", "x")
    # Through the front door: the database first, then its user.
    door = platform.door("alpha", single_connection_client=True)
    assert door.execute_command("AUTH", "app", "apppw")
    assert door.acl_whoami() == "app"
    with pytest.raises(redis.exceptions.NoPermissionError):
        door.get("secret")
    # The other database does not know the user.
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=platform.ports["beta"], username="app",
                    password="apppw", socket_timeout=10).ping()
    # The default user's credentials are the database password, kept by the operator.
    with pytest.raises(redis.exceptions.ResponseError, match="managed by the platform"):
        a.acl_setuser("default", nopass=True)
    # The front door's AUTH <database> <password> still opens the database.
    assert platform.door("alpha").get("app:1") == "v"
    a.acl_deluser("app")
