#!/usr/bin/env python3
"""Generates MiniRedis's command table from a running Redis 7.0 server.

Everything a client can observe about a command (arity, flags, ACL categories, key
positions, key specs, tips, group, since, complexity, history, arguments, ...) is read
from the live server with COMMAND INFO and COMMAND DOCS, so the table is exactly
Redis's. The one exception is each command's `summary`: those are our own words, read
from scripts/command_summaries.tsv (name<TAB>summary); the script fails if a command
has no summary there.

Outputs:
  crates/commands/src/table/<group>.rs      one static slice of specs per Redis group
  tests/data/redis70_command_info.json       a snapshot the Rust tests compare against:
      info     COMMAND INFO of every command (RESP3 types kept; subcommands sorted)
      docs     COMMAND DOCS of every command, summaries removed
      getkeys  COMMAND GETKEYSANDFLAGS results (positions + flags) for many argvs
      replies  raw RESP2/RESP3 bytes of COMMAND subcommand calls for exact comparison
      lists    COMMAND LIST results (sorted) for several filters
      help_syntax  the syntax lines of COMMAND HELP

Usage:
  redis-server --port 7379 --daemonize yes --save ''
  python3 scripts/gen_command_table.py [--port 7379]
  redis-cli -p 7379 shutdown nosave

The script only needs the Python standard library.
"""

import argparse
import json
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_DIR = os.path.join(ROOT, "crates", "commands", "src", "table")
SNAPSHOT = os.path.join(ROOT, "tests", "data", "redis70_command_info.json")
SUMMARIES = os.path.join(ROOT, "scripts", "command_summaries.tsv")

# Redis command groups, each generated into table/<file>.rs. The list is fixed so that
# table/mod.rs (hand-written) can declare the modules; a new group is an error.
GROUP_FILES = {
    "bitmap": "bitmap",
    "cluster": "cluster",
    "connection": "connection",
    "generic": "generic",
    "geo": "geo",
    "hash": "hash",
    "hyperloglog": "hyperloglog",
    "list": "list",
    "pubsub": "pubsub",
    "scripting": "scripting",
    "server": "server",
    "set": "set",
    "sorted-set": "sorted_set",
    "stream": "stream",
    "string": "string",
    "transactions": "transactions",
}


# --------------------------------------------------------------------------------------
# A small RESP client. Replies are decoded into a typed form that survives JSON:
#   bulk string -> str, integer -> int, array -> list, null -> None,
#   simple string -> {"+": s}, error -> {"-": s}, map -> {"%": [k, v, ...]},
#   set -> {"~": [...]}.


class Resp:
    def __init__(self, port, proto):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.proto = proto
        if proto == 3:
            hello = self.call("HELLO", "3")
            assert isinstance(hello, dict) and "%" in hello, hello

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_raw(self, *args):
        """Sends a command and returns its reply's exact bytes."""
        self.send(*args)
        buf = bytearray()
        self.read(buf)
        return bytes(buf)

    def line(self, raw):
        data = self.file.readline()
        if raw is not None:
            raw += data
        return data[:-2]

    def read(self, raw=None):
        line = self.line(raw)
        tag, rest = chr(line[0]), line[1:].decode()
        if tag == "+":
            return {"+": rest}
        if tag == "-":
            return {"-": rest}
        if tag == ":":
            return int(rest)
        if tag in "$=":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            if raw is not None:
                raw += data
            return data[:-2].decode()
        if tag == "*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read(raw) for _ in range(n)]
        if tag == "%":
            return {"%": [self.read(raw) for _ in range(2 * int(rest))]}
        if tag == "~":
            return {"~": [self.read(raw) for _ in range(int(rest))]}
        if tag == "_":
            return None
        raise ValueError("unexpected RESP type %r" % tag)


def downgrade(v):
    """What a RESP3 reply looks like when sent to a RESP2 client (as Redis does it)."""
    if isinstance(v, list):
        return [downgrade(x) for x in v]
    if isinstance(v, dict):
        if "%" in v or "~" in v:
            return [downgrade(x) for x in list(v.values())[0]]
        return v
    return v


def pairs(m):
    """A typed map's (key, value) pairs as a dict (keys are bulk strings)."""
    items = m["%"]
    return dict(zip(items[0::2], items[1::2]))


def elems(v):
    """Elements of an array or a set."""
    if isinstance(v, dict):
        return v["~"]
    return v


def text(v):
    """The text of a bulk or simple string."""
    return v["+"] if isinstance(v, dict) else v


# --------------------------------------------------------------------------------------
# Reading the live table.


def read_table(port):
    r3 = Resp(port, 3)
    r2 = Resp(port, 2)
    version = pairs(r3.call("HELLO", "3"))["version"]
    if not version.startswith("7.0."):
        sys.exit("expected a Redis 7.0 server, got %s" % version)
    info3 = r3.call("COMMAND", "INFO")
    docs3 = r3.call("COMMAND", "DOCS")
    # The RESP2 replies must be the plain downgrade of the RESP3 ones, so the Rust
    # tests only need the RESP3 snapshot (ReplyWriter downgrades the same way).
    info2 = r2.call("COMMAND", "INFO")
    docs2 = r2.call("COMMAND", "DOCS")
    by_name3 = {e[0]: e for e in info3}
    for e in info2:
        assert downgrade(by_name3[e[0]]) == e, e[0]
    d3 = pairs(docs3)
    it = iter(docs2)
    for k in it:
        assert downgrade(d3[k]) == next(it), k
    return version, info3, d3, r2, r3


class Cmd:
    """One command (or subcommand) with its INFO entry and DOCS map."""

    def __init__(self, info, docs):
        self.info = info
        self.docs = docs
        self.name = info[0]
        subs_info = {s[0]: s for s in elems(info[9])}
        subs_docs = pairs(docs["subcommands"]) if "subcommands" in docs else {}
        assert set(subs_info) == set(subs_docs), self.name
        self.subs = [Cmd(subs_info[n], pairs(subs_docs[n])) for n in sorted(subs_info)]

    @property
    def flags(self):
        return [text(f) for f in elems(self.info[2])]

    @property
    def acl(self):
        return [text(c).lstrip("@") for c in elems(self.info[6])]


# --------------------------------------------------------------------------------------
# Rust emission.


def rs_str(s):
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def rs_opt_str(s):
    return "None" if s is None else "Some(%s)" % rs_str(s)


def rs_strs(items):
    return "&[%s]" % ", ".join(rs_str(s) for s in items)


def spec_constants():
    """The Rust constant behind each flag and ACL category name, read from the
    `NAMES` tables of spec.rs so the two never disagree."""
    import re

    src = open(os.path.join(ROOT, "crates", "commands", "src", "spec.rs")).read()
    consts = {}
    for module in ("flags", "acl"):
        body = src[src.index("pub mod %s {" % module) :]
        body = body[: body.index("\n}\n")]
        consts[module] = dict(
            (name, const) for const, name in re.findall(r'\((\w+), "([a-z_]+)"\)', body)
        )
    return consts


CONSTS = None


def rs_bits(module, names):
    global CONSTS
    if CONSTS is None:
        CONSTS = spec_constants()
    if not names:
        return "0"
    missing = [n for n in names if n not in CONSTS[module]]
    if missing:
        sys.exit("spec.rs has no %s constant for %s" % (module, missing))
    return " | ".join("%s::%s" % (module, CONSTS[module][n]) for n in names)


def rs_key_spec(ks):
    m = pairs(ks)
    flags = [text(f) for f in elems(m["flags"])]
    bs = pairs(m["begin_search"])
    bspec = pairs(bs["spec"])
    if bs["type"] == "index":
        begin = "BeginSearch::Index(%d)" % bspec["index"]
    elif bs["type"] == "keyword":
        begin = "BeginSearch::Keyword { keyword: %s, startfrom: %d }" % (
            rs_str(bspec["keyword"]),
            bspec["startfrom"],
        )
    else:
        assert bs["type"] == "unknown" and not bspec, bs
        begin = "BeginSearch::Unknown"
    fk = pairs(m["find_keys"])
    fspec = pairs(fk["spec"])
    if fk["type"] == "range":
        find = "FindKeys::Range { lastkey: %d, step: %d, limit: %d }" % (
            fspec["lastkey"],
            fspec["keystep"],
            fspec["limit"],
        )
    elif fk["type"] == "keynum":
        find = "FindKeys::Keynum { keynumidx: %d, firstkey: %d, step: %d }" % (
            fspec["keynumidx"],
            fspec["firstkey"],
            fspec["keystep"],
        )
    else:
        assert fk["type"] == "unknown" and not fspec, fk
        find = "FindKeys::Unknown"
    known = {"notes", "flags", "begin_search", "find_keys"}
    assert set(m) <= known, m.keys()
    return "KeySpec { notes: %s, flags: %s, begin_search: %s, find_keys: %s }" % (
        rs_opt_str(m.get("notes")),
        rs_strs(flags),
        begin,
        find,
    )


ARG_FIELDS = {
    "name",
    "type",
    "key_spec_index",
    "token",
    "since",
    "deprecated_since",
    "flags",
    "arguments",
}


def rs_arg(a, indent):
    m = pairs(a)
    assert set(m) <= ARG_FIELDS, (m.keys(), m.get("name"))
    flags = [text(f) for f in elems(m.get("flags", {"~": []}))]
    assert set(flags) <= {"optional", "multiple", "multiple_token"}, flags
    fields = ["name: %s" % rs_str(m["name"]), "kind: %s" % rs_str(m["type"])]
    if "token" in m:
        fields.append("token: Some(%s)" % rs_str(m["token"]))
    for f in ("optional", "multiple", "multiple_token"):
        if f in flags:
            fields.append("%s: true" % f)
    if "key_spec_index" in m:
        fields.append("key_spec_index: Some(%d)" % m["key_spec_index"])
    if "since" in m:
        fields.append("since: Some(%s)" % rs_str(m["since"]))
    if "deprecated_since" in m:
        fields.append("deprecated_since: Some(%s)" % rs_str(m["deprecated_since"]))
    pad = " " * (4 * indent)
    if "arguments" not in m:
        return "%sArg { %s, ..ARG }," % (pad, ", ".join(fields))
    return "%sArg {\n%s    %s,\n%s    args: %s,\n%s    ..ARG\n%s}," % (
        pad,
        pad,
        ", ".join(fields),
        pad,
        rs_args(m["arguments"], indent + 1),
        pad,
        pad,
    )


def rs_args(args, indent):
    """An argument slice, one argument per line, nested ones indented further."""
    if not args:
        return "&[]"
    inner = "\n".join(rs_arg(a, indent + 1) for a in args)
    return "&[\n%s\n%s]" % (inner, " " * (4 * indent))


DOC_FIELDS = {
    "summary",
    "since",
    "group",
    "complexity",
    "doc_flags",
    "deprecated_since",
    "replaced_by",
    "history",
    "arguments",
    "subcommands",
}


def rs_spec(cmd, summaries):
    info, docs = cmd.info, cmd.docs
    assert set(docs) <= DOC_FIELDS, (cmd.name, docs.keys())
    flags = cmd.flags
    acl = cmd.acl
    tips = [text(t) for t in elems(info[7])]
    key_specs = [rs_key_spec(k) for k in elems(info[8])]
    history = [tuple(h) for h in elems(docs.get("history", []))]
    doc_flags = [text(f) for f in elems(docs.get("doc_flags", {"~": []}))]
    if key_specs:
        key_specs_rs = "&[\n%s\n        ]" % "\n".join("            %s," % k for k in key_specs)
    else:
        key_specs_rs = "&[]"
    if history:
        history_rs = "&[\n%s\n        ]" % "\n".join(
            "            (%s, %s)," % (rs_str(v), rs_str(t)) for v, t in history
        )
    else:
        history_rs = "&[]"
    lines = [
        "CommandSpec {",
        "name: %s," % rs_str(cmd.name),
        "arity: %d," % info[1],
        "flags: %s," % rs_bits("flags", flags),
        "acl: %s," % rs_bits("acl", acl),
        "first_key: %d," % info[3],
        "last_key: %d," % info[4],
        "step: %d," % info[5],
        "key_specs: %s," % key_specs_rs,
        "tips: %s," % rs_strs(tips),
        "key_finder: None,",
        "group: %s," % rs_str(docs["group"]),
        "since: %s," % rs_str(docs["since"]),
        "summary: %s," % rs_str(summaries[cmd.name]),
        # Redis omits `complexity` for a few commands; "" means "not reported".
        "complexity: %s," % rs_str(docs.get("complexity", "")),
        "doc_flags: %s," % rs_strs(doc_flags),
        "deprecated_since: %s," % rs_opt_str(docs.get("deprecated_since")),
        "replaced_by: %s," % rs_opt_str(docs.get("replaced_by")),
        "history: %s," % history_rs,
        "args: %s," % rs_args(docs.get("arguments", []), 2),
        "handler: None,",
    ]
    return "    CommandSpec {\n%s\n    }," % "\n".join("        " + l for l in lines[1:])


HEADER = """\
//! Redis 7.0 commands of the `{group}` group.
//!
//! Generated by `scripts/gen_command_table.py` from Redis {version}'s COMMAND INFO and
//! COMMAND DOCS (summaries from `scripts/command_summaries.tsv`). Do not edit by hand:
//! regenerate instead.

use super::ARG;
#[allow(unused_imports)]
use crate::spec::{{acl, flags, Arg, BeginSearch, CommandSpec, FindKeys, KeySpec}};

/// Every command and subcommand of the group, each container before its subcommands.
pub(super) static SPECS: &[CommandSpec] = &["""


def emit_rust(version, cmds, summaries):
    by_group = {}
    for c in cmds:
        group = c.docs["group"]
        if group not in GROUP_FILES:
            sys.exit("unknown command group %r (command %s)" % (group, c.name))
        by_group.setdefault(group, []).append(c)
    written = []
    for group, file in sorted(GROUP_FILES.items()):
        path = os.path.join(TABLE_DIR, file + ".rs")
        parts = [HEADER.format(group=group, version=version)]
        for c in sorted(by_group.get(group, []), key=lambda c: c.name):
            parts.append(rs_spec(c, summaries))
            for s in c.subs:
                parts.append(rs_spec(s, summaries))
        parts.append("];\n")
        with open(path, "w") as f:
            f.write("\n".join(parts))
        written.append(path)
    # Format like the rest of the tree so regenerating produces no diff.
    subprocess.run(
        ["rustfmt", "--edition", "2021", "--config-path", os.path.join(ROOT, "rustfmt.toml")]
        + written,
        check=True,
    )
    return written


# --------------------------------------------------------------------------------------
# Summaries.


def load_summaries(cmds):
    summaries = {}
    with open(SUMMARIES) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, sep, summary = line.partition("\t")
            if not sep or not summary.strip():
                sys.exit("%s:%d: expected name<TAB>summary" % (SUMMARIES, n))
            summaries[name] = summary.strip()
    names = set()
    for c in cmds:
        names.add(c.name)
        names.update(s.name for s in c.subs)
    missing = sorted(names - set(summaries))
    extra = sorted(set(summaries) - names)
    if missing:
        sys.exit("no summary in %s for: %s" % (SUMMARIES, " ".join(missing)))
    if extra:
        print("warning: summaries for unknown commands: %s" % " ".join(extra))
    return summaries


# --------------------------------------------------------------------------------------
# COMMAND GETKEYS cases.

# Hand-written cases, mostly for commands whose keys depend on their arguments.
# `True` marks valid input (the command itself would accept it), where MiniRedis's
# key positions must equal Redis's; `False` marks malformed input, where only COMMAND
# GETKEYS's reply is compared.
MANUAL_GETKEYS = [
    (True, "EVAL s 0"),
    (True, "EVAL s 2 a b c"),
    (True, "EVALSHA sha 1 a"),
    (True, "EVAL_RO s 3 a b c d"),
    (True, "EVALSHA_RO sha 0 x"),
    (True, "FCALL f 1 a b"),
    (True, "FCALL_RO f 0"),
    (False, "EVAL s 3 a b"),
    (False, "EVAL s x"),
    (False, "EVAL s -1 a"),
    (True, "ZUNION 2 a b WEIGHTS 1 2"),
    (True, "ZINTER 1 a WITHSCORES"),
    (True, "ZDIFF 3 a b c"),
    (True, "ZINTERCARD 2 a b LIMIT 3"),
    (True, "SINTERCARD 2 a b LIMIT 1"),
    (False, "ZUNION 0 a"),
    (False, "ZINTER 3 a b"),
    (True, "ZUNIONSTORE d 2 a b"),
    (True, "ZINTERSTORE d 1 a AGGREGATE MAX"),
    (True, "ZDIFFSTORE d 2 a b"),
    (False, "ZUNIONSTORE d 0 a"),
    (False, "ZDIFFSTORE d 3 a b"),
    (True, "LMPOP 2 a b LEFT COUNT 2"),
    (True, "LMPOP 1 a RIGHT"),
    (True, "BLMPOP 0 2 a b LEFT"),
    (True, "ZMPOP 2 a b MIN"),
    (True, "BZMPOP 1.5 1 a MAX COUNT 3"),
    (False, "LMPOP 3 a b"),
    (False, "BZMPOP 0 0 a MIN"),
    (True, "XREAD STREAMS a b 0 0"),
    (True, "XREAD COUNT 2 BLOCK 10 STREAMS a 0"),
    (True, "XREAD STREAMS streams 0"),
    (False, "XREAD STREAMS a b 0"),
    (False, "XREAD BLOCK 0 STREAMS"),
    (True, "XREADGROUP GROUP g c STREAMS a b > >"),
    (True, "XREADGROUP GROUP streams streams COUNT 1 NOACK STREAMS a 0"),
    (True, "MIGRATE h 1 k 0 5000"),
    (True, "MIGRATE h 1 k 0 5000 COPY REPLACE"),
    (True, 'MIGRATE h 1 "" 0 5000 KEYS a b'),
    (True, 'MIGRATE h 1 "" 0 5000 COPY AUTH keys KEYS a'),
    (True, 'MIGRATE h 1 "" 0 5000 AUTH2 u keys KEYS a b c'),
    (False, "MIGRATE h 1 k 0 5000 KEYS a b"),
    (True, "GEORADIUS src 1 2 3 m WITHDIST"),
    (True, "GEORADIUS src 1 2 3 km STORE d"),
    (True, "GEORADIUS src 1 2 3 km COUNT 5 STOREDIST d"),
    (True, "GEORADIUSBYMEMBER src m 3 m store d"),
    (True, "GEORADIUSBYMEMBER src m 3 m ASC STOREDIST d"),
    (True, "GEORADIUS_RO src 1 2 3 m"),
    (True, "SORT k"),
    (True, "SORT k STORE d"),
    (True, "SORT k BY p LIMIT 0 1 GET # GET x ALPHA STORE d"),
    (True, "SORT k GET store STORE d"),
    (True, "SORT_RO k BY p GET x"),
    (True, "SET k v"),
    (True, "SET k v GET"),
    (True, "SET k v NX get EX 10"),
    (True, "SET k get"),
    (True, "BITFIELD k GET u8 0"),
    (True, "BITFIELD k OVERFLOW WRAP GET u8 0"),
    (True, "BITFIELD k SET u8 0 1"),
    (True, "BITFIELD k GET u8 0 INCRBY u8 0 1"),
    (True, "BITFIELD k"),
    (False, "BITFIELD k GET u8"),
    (True, "BITFIELD_RO k GET u8 0"),
    (True, "MSET a 1 b 2 c 3"),
    (True, "MSETNX a 1 b 2"),
    (True, "BITOP AND d a b"),
    (True, "BLPOP a b 0"),
    (True, "BZPOPMIN a b 1.5"),
    (True, "LMOVE a b LEFT RIGHT"),
    (True, "OBJECT ENCODING k"),
    (True, "MEMORY USAGE k SAMPLES 5"),
    (True, "XINFO STREAM k FULL COUNT 2"),
    (True, "XGROUP CREATE k g $ MKSTREAM"),
    (True, "PFMERGE d a b"),
    (True, "DEL a b c"),
    (True, "RENAME a b"),
    (True, "WATCH a b"),
    (False, "SPUBLISH c m"),
    (False, "SSUBSCRIBE a b"),
    (False, "PUBLISH c m"),
    (False, "CONFIG GET x"),
    (False, "OBJECT HELP"),
    (False, "GET a b"),
    (False, "NOPE a"),
    (False, "object|encoding k"),
]


def shell_split(s):
    import shlex

    return shlex.split(s)


class ArgvBuilder:
    """Builds an argv from a command's documented argument tree, with every non-token
    value unique so key names map back to positions."""

    def __init__(self, full):
        self.full = full  # include optional arguments, 2 repetitions, last alternative
        self.n = 0

    def value(self, kind, name):
        self.n += 1
        if kind == "key":
            return "key:%d" % self.n
        if kind in ("integer", "unix-time"):
            return str(100 + self.n)
        if kind == "double":
            return "%d.5" % self.n
        if kind == "pattern":
            return "pat%d*" % self.n
        return "%s%d" % (name, self.n)

    def args(self, args):
        out = []
        for a in args:
            out += self.arg(pairs(a), top=True)
        return out

    def arg(self, m, top=False):
        flags = [text(f) for f in elems(m.get("flags", {"~": []}))]
        if "optional" in flags and not self.full:
            return []
        reps = 2 if ("multiple" in flags and self.full) else 1
        out = []
        for i in range(reps):
            if "token" in m and (i == 0 or "multiple_token" in flags):
                out.append(m["token"])
            kind = m["type"]
            if kind == "pure-token":
                continue
            if kind == "oneof":
                subs = m["arguments"]
                out += self.arg(pairs(subs[-1] if self.full else subs[0]))
            elif kind == "block":
                for s in m["arguments"]:
                    out += self.arg(pairs(s))
            else:
                out.append(self.value(kind, m["name"]))
        return out


def auto_getkeys_cases(cmds):
    """One minimal and one maximal argv for every command with keys (commands whose
    keys are counted by a numkeys argument are covered by MANUAL_GETKEYS)."""
    cases = []

    def visit(c, prefix):
        if not elems(c.info[8]) or "movablekeys" in c.flags:
            return
        for full in (False, True):
            b = ArgvBuilder(full)
            argv = prefix + b.args(c.docs.get("arguments", []))
            if argv not in [x[1] for x in cases]:
                cases.append((True, argv))

    for c in cmds:
        if c.subs:
            for s in c.subs:
                visit(s, [c.name.upper(), s.name.split("|")[1].upper()])
        else:
            visit(c, [c.name.upper()])
    return cases


def capture_getkeys(r2, cmds):
    cases = [(v, shell_split(s)) for v, s in MANUAL_GETKEYS] + auto_getkeys_cases(cmds)
    out = []
    for valid, argv in cases:
        reply = r2.call("COMMAND", "GETKEYSANDFLAGS", *argv)
        case = {"argv": argv, "valid": valid}
        if isinstance(reply, dict):
            case["error"] = reply["-"]
        else:
            keys = []
            for name, flags in reply:
                # Positions are recovered from names, so a name must occur once.
                hits = [i for i, a in enumerate(argv) if a == name]
                if len(hits) != 1:
                    raise SystemExit("ambiguous key %r in %r" % (name, argv))
                keys.append([hits[0], [text(f) for f in flags]])
            case["keys"] = keys
        out.append(case)
    return out


# --------------------------------------------------------------------------------------
# Exact replies of COMMAND subcommands, in RESP2 and RESP3.
#
# "served" cases only involve the COMMAND family, the one family a bare test instance
# is sure to serve; the Rust tests run them through dispatch. "table" cases are run
# over the whole generated table by calling the COMMAND reply builders directly.

SERVED_REPLIES = [
    "COMMAND INFO command|info",
    "COMMAND INFO COMMAND|GETKEYS nosuch get|x command| command|info|x",
    "COMMAND INFO command|count command|list",
    "COMMAND DOCS nosuch",
    "COMMAND HELP x",
    "COMMAND COUNT x",
    "COMMAND NOSUCH",
    "COMMAND LIST FILTERBY PATTERN command|i*",
    "COMMAND LIST FILTERBY pattern COMMAND|GETKEYS*",
    "COMMAND LIST FILTERBY ACLCAT nosuch",
    "COMMAND LIST FILTERBY MODULE nosuch",
    "COMMAND LIST FILTERBY PATTERN",
    "COMMAND LIST FILTERBY nosuch x",
    "COMMAND LIST FILTERBY PATTERN a FILTERBY PATTERN b",
    "COMMAND LIST x",
    "COMMAND GETKEYS",
    "COMMAND GETKEYS nosuch",
    "COMMAND GETKEYS nosuch x",
    "COMMAND GETKEYS command",
    "COMMAND GETKEYS command info",
    "COMMAND GETKEYS command|info x",
    "COMMAND GETKEYSANDFLAGS command count x",
]

TABLE_REPLIES = [
    "COMMAND COUNT",
    "COMMAND INFO get",
    "COMMAND INFO sort set zadd xread georadius migrate eval spublish bitfield",
    "COMMAND INFO config|get CLIENT|KILL nosuch object|encoding",
    "COMMAND GETKEYSANDFLAGS SET k v GET",
    "COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b",
    "COMMAND GETKEYS ZUNIONSTORE d 2 a b",
    "COMMAND GETKEYSANDFLAGS EVAL s 0",
    "COMMAND GETKEYS GET a b",
    "COMMAND GETKEYS PUBLISH a b",
    "COMMAND GETKEYS ZUNION 0 a",
    "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS config get x",
    "COMMAND GETKEYS object encoding k",
    "COMMAND GETKEYS object nosuch k",
    "COMMAND GETKEYS config|get x",
    "COMMAND LIST FILTERBY PATTERN xinfo|s*",
    "COMMAND LIST FILTERBY PATTERN nosuch*",
    "COMMAND DOCS nosuch",
]

# COMMAND LIST variants whose (unordered) names are compared as sorted lists.
LIST_FILTERS = [
    [],
    ["FILTERBY", "PATTERN", "*"],
    ["FILTERBY", "PATTERN", "x*"],
    ["FILTERBY", "PATTERN", "CONFIG*"],
    ["FILTERBY", "PATTERN", "*|*"],
    ["FILTERBY", "PATTERN", "[a-c]?t*"],
    ["FILTERBY", "MODULE", "x"],
    ["FILTERBY", "ACLCAT", "@read"],
] + [["FILTERBY", "ACLCAT", c] for c in (
    "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream "
    "pubsub admin fast slow blocking dangerous connection transaction scripting READ"
).split()]


def capture_replies(r2, r3):
    out = []
    for scope, cases in (("served", SERVED_REPLIES), ("table", TABLE_REPLIES)):
        for line in cases:
            argv = line.split(" ")
            out.append(
                {
                    "scope": scope,
                    "argv": argv,
                    "resp2": r2.call_raw(*argv).decode(),
                    "resp3": r3.call_raw(*argv).decode(),
                }
            )
    return out


def capture_lists(r2):
    out = []
    for f in LIST_FILTERS:
        names = r2.call("COMMAND", "LIST", *f)
        out.append({"filter": f, "names": sorted(names)})
    return out


def capture_help(r2):
    return [text(line) for line in r2.call("COMMAND", "HELP")]


# --------------------------------------------------------------------------------------
# The snapshot.


def strip_summaries(docs):
    """COMMAND DOCS without Redis's summary texts (MiniRedis has its own)."""
    m = pairs(docs)
    items = []
    for k, v in m.items():
        if k == "summary":
            continue
        if k == "subcommands":
            subs = pairs(v)
            flat = []
            for name in sorted(subs):
                flat += [name, strip_summaries(subs[name])]
            v = {"%": flat}
        items += [k, v]
    return {"%": items}


def sorted_info(info):
    """COMMAND INFO with subcommands sorted by name (Redis returns them in hash order)."""
    info = list(info)
    subs = info[9]
    if isinstance(subs, list):
        info[9] = [sorted_info(s) for s in sorted(subs, key=lambda s: s[0])]
    return info


def write_snapshot(version, cmds, getkeys, replies, lists, help_lines):
    snap = {
        "redis_version": version,
        "about": "Captured by scripts/gen_command_table.py; see its docstring.",
        "info": {c.name: sorted_info(c.info) for c in cmds},
        "docs": {c.name: strip_summaries({"%": sum(map(list, c.docs.items()), [])}) for c in cmds},
        "getkeys": getkeys,
        "replies": replies,
        "lists": lists,
        # Only the syntax lines are compared: the explanations are our own words.
        "help_syntax": [l for l in help_lines if not l.startswith(" ")],
    }
    os.makedirs(os.path.dirname(SNAPSHOT), exist_ok=True)
    with open(SNAPSHOT, "w") as f:
        json.dump(snap, f, indent=None, separators=(",", ":"), sort_keys=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=7379)
    opts = ap.parse_args()
    version, info3, docs3, r2, r3 = read_table(opts.port)
    cmds = sorted((Cmd(e, pairs(docs3[e[0]])) for e in info3), key=lambda c: c.name)
    summaries = load_summaries(cmds)
    files = emit_rust(version, cmds, summaries)
    getkeys = capture_getkeys(r2, cmds)
    replies = capture_replies(r2, r3)
    lists = capture_lists(r2)
    write_snapshot(version, cmds, getkeys, replies, lists, capture_help(r2))
    total = sum(1 + len(c.subs) for c in cmds)
    print(
        "Redis %s: %d commands (%d with subcommands) in %d files; %d GETKEYS cases"
        % (version, len(cmds), total, len(files), len(getkeys))
    )


if __name__ == "__main__":
    main()
