"""Fixtures for the redis-py suite: one server process per test module.

The server is `$MINIREDIS_BIN node --port N ...` (scripts/test.sh builds the binary and
sets MINIREDIS_BIN). With MINIREDIS_SUBJECT=redis it is Debian's redis-server instead:
the suite's self-test. A missing binary fails the run; nothing is skipped.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(port: int, workdir: str) -> list:
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--dir", workdir]
    if os.environ.get("MINIREDIS_SUBJECT", "").lower() == "redis":
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("MINIREDIS_SUBJECT=redis but redis-server is not on PATH "
                        "(scripts/test.sh installs it: apt-get install redis-server)")
        return [binary] + common
    binary = os.environ.get("MINIREDIS_BIN")
    if not binary:
        pytest.fail("MINIREDIS_BIN is not set: it must name the miniredis binary "
                    "(scripts/test.sh builds it and sets it)")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"MINIREDIS_BIN={binary} is not an executable file")
    return [binary, "node"] + common


class Server:
    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="miniredis-pytest-")
        self.log_path = os.path.join(self.workdir, "server.log")
        last_error = None
        for _attempt in range(5):
            self.port = free_port()
            cmd = server_command(self.port, self.workdir)
            self.log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            try:
                self._wait_ready(10.0)
                return
            except RuntimeError as e:
                last_error = e
                self.stop()
        raise RuntimeError(f"server did not start: {last_error}")

    def _wait_ready(self, limit: float):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}; log:\n{self.read_log()}")
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping():
                    return
            except redis.exceptions.ConnectionError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"no PING answer within {limit}s; log:\n{self.read_log()}")

    def read_log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def client(self, **kwargs) -> redis.Redis:
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.cleanup()


@pytest.fixture
def r(server):
    """A decoded RESP2 client on a flushed server."""
    c = server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def make_client(server):
    """Opens more decoded clients on the same server (closed after the test)."""
    made = []

    def make():
        c = server.client()
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
