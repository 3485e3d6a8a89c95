#!/usr/bin/env python3
"""Every conformance vector through the `motan` CLI (python3 standard library only).

simple.json  both: encode text == hex, decode hex == text (typed-JSON semantics), and the
             decoded text encodes back to hex; decode: decode hex == text; reject: exit 1 and
             a one-line "error: ..." on stderr.
frames.json  decode/both: `decode frame` (hex argument and raw stdin) matches expect
             (metadata as a set), plus args/value for non-empty Simple bodies; both: encoding
             expect gives hex; reject: exit 1 and "error: ...".
Exits 1 on any mismatch.
"""
import base64
import json
import math
import os
import struct
import subprocess
import sys

ROOT = os.environ.get("MOTAN_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build")
CLI = os.path.join(ROOT, BUILD, "bin", "motan") if not os.path.isabs(BUILD) else os.path.join(BUILD, "bin", "motan")
# As scripts/vectors.sh: the variable, else the upstream set beside the clone, else the copy.
_UPSTREAM = os.path.join(ROOT, "..", "shared", "vectors")
VECTORS = os.environ.get("MOTAN_VECTORS_DIR") or (
    _UPSTREAM if all(os.path.isfile(os.path.join(_UPSTREAM, f)) for f in ("simple.json", "frames.json"))
    else os.path.join(ROOT, "tests", "vectors"))

FRAME_KEYS = ["kind", "request_id", "status", "serialization", "metadata", "body", "error", "args", "value"]

failures = []
checks = 0


def fail(name, msg):
    failures.append(f"{name}: {msg}")


def run(*args, stdin=None):
    p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---- typed JSON semantics (docs/typed-json.md "Comparing") -----------------------------

def pairs(items):
    return ("obj", items)


def loads(text):
    return json.loads(text, object_pairs_hook=pairs)


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


def special(x):
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[x]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"not a number: {x!r}")
    return float(x)


def int_in(x, lo, hi):
    if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
        raise ValueError(f"integer out of range: {x!r}")
    return x


def tv(x):
    """A parsed typed-JSON text -> (tag, payload) with exact Simple types."""
    if x is None:
        return ("null",)
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int):
        return ("int64", int_in(x, -2**63, 2**63 - 1))
    if isinstance(x, float):
        return ("float64", x)
    if isinstance(x, str):
        return ("string", x.encode("utf-8", "surrogatepass"))
    if isinstance(x, list):
        return ("array", [tv(e) for e in x])
    assert isinstance(x, tuple) and x[0] == "obj"
    items = x[1]
    if any(k.startswith("$") for k, _ in items):
        if len(items) != 1:
            raise ValueError("a $ object must have one key")
        k, v = items[0]
        if k == "$byte":
            return ("byte", int_in(v, -128, 255) & 0xFF)
        if k in ("$int16", "$int32", "$int64"):
            bits = int(k[4:])
            return (k[1:], int_in(v, -2**(bits - 1), 2**(bits - 1) - 1))
        if k == "$float32":
            return ("float32", f32(special(v)))
        if k == "$float64":
            return ("float64", special(v))
        if k == "$bytes":
            return ("bytes", base64.b64decode(v, validate=True))
        if k == "$string":
            return ("string", base64.b64decode(v, validate=True))
        if k == "$string_map":
            assert isinstance(v, tuple) and all(isinstance(e, str) for _, e in v[1])
            return ("string_map", [(a.encode(), b.encode()) for a, b in v[1]])
        if k == "$string_array":
            assert isinstance(v, list) and all(isinstance(e, str) for e in v)
            return ("string_array", [e.encode() for e in v])
        if k == "$map":
            return ("map", [(tv(a), tv(b)) for a, b in v])
        if k == "$array":
            return ("array", [tv(e) for e in v])
        raise ValueError(f"unknown $ key {k}")
    return ("map", [(("string", k.encode()), tv(v)) for k, v in items])


def float_eq(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def same(a, b):
    if a[0] != b[0]:
        return False
    tag = a[0]
    if tag == "null":
        return True
    if tag in ("float32", "float64"):
        return float_eq(a[1], b[1])
    if tag in ("array", "map", "string_map", "string_array"):
        if len(a[1]) != len(b[1]):
            return False
        if tag == "array":
            return all(same(x, y) for x, y in zip(a[1], b[1]))
        if tag == "map":
            return all(same(x[0], y[0]) and same(x[1], y[1]) for x, y in zip(a[1], b[1]))
        return a[1] == b[1]
    return a[1] == b[1]


def same_text(t1, t2):
    try:
        return same(tv(loads(t1)), tv(loads(t2)))
    except (ValueError, AssertionError, KeyError, TypeError, json.JSONDecodeError):
        return False


# ---- simple.json ------------------------------------------------------------------------------

def check_simple(v):
    global checks
    name, mode, hexs = "simple/" + v["name"], v["mode"], v["hex"]
    if mode == "both":
        checks += 1
        rc, out, err = run("encode", "simple", v["text"])
        if rc != 0 or out != hexs + "\n":
            fail(name, f"encode {v['text']}: rc={rc} out={out!r} err={err!r}, want {hexs}")
    if mode in ("both", "decode"):
        checks += 1
        rc, out, err = run("decode", "simple", hexs)
        if rc != 0 or not out.endswith("\n") or "\n" in out[:-1] or err:
            fail(name, f"decode {hexs}: rc={rc} out={out!r} err={err!r}")
        elif not same_text(out, v["text"]):
            fail(name, f"decode {hexs}: {out.strip()} differs from {v['text']}")
        elif mode == "both":
            checks += 1
            rc2, out2, err2 = run("encode", "simple", out.strip())
            if rc2 != 0 or out2 != hexs + "\n":
                fail(name, f"re-encoding the decoded {out.strip()}: {out2!r} {err2!r}")
    if mode == "reject":
        checks += 1
        rc, out, err = run("decode", "simple", hexs)
        if rc != 1 or out or not err.startswith("error: ") or err.count("\n") != 1:
            fail(name, f"reject {hexs}: rc={rc} out={out!r} err={err!r}")


# ---- frames.json ------------------------------------------------------------------------------

def check_decoded(name, got, exp):
    """got: the parsed `decode frame` output; exp: the vector's expect."""
    order = [k for k, _ in got[1]]
    d = dict(got[1])
    if len(order) != len(d) or order != [k for k in FRAME_KEYS if k in d]:
        return f"keys {order} not in contract order {FRAME_KEYS}"
    for k in ("kind", "request_id", "status", "serialization", "metadata", "body"):
        if k not in d:
            return f"missing {k}"
    meta = d["metadata"]
    if not (isinstance(meta, tuple) and meta[0] == "obj"):
        return "metadata is not an object"
    keys = [k for k, _ in meta[1]]
    if len(keys) != len(set(keys)):
        return f"duplicate metadata keys {keys}"
    if dict(meta[1]) != exp["metadata"]:
        return f"metadata {dict(meta[1])} != {exp['metadata']}"
    for k in ("kind", "request_id", "status", "serialization", "body"):
        if d[k] != exp[k]:
            return f"{k} {d[k]!r} != {exp[k]!r}"
    if "error" in exp:
        if "error" not in d:
            return "no error object"
        e = dict(d["error"][1])
        for k, want in exp["error"].items():
            if e.get(k) != want:
                return f"error.{k} {e.get(k)!r} != {want!r}"
    elif "error" in d:
        return f"unexpected error {d['error']}"
    simple_body = exp["serialization"] == 6 and exp["body"] and exp["kind"] in ("request", "response")
    want_key = ("args" if exp["kind"] == "request" else "value") if simple_body else None
    for k in ("args", "value"):
        if (k in d) != (k == want_key):
            return f"{k} {'present' if k in d else 'missing'}"
    if want_key == "value":
        rc, out, err = run("decode", "simple", exp["body"])
        if rc != 0 or not same(tv(d["value"]), tv(loads(out))):
            return f"value {d['value']} does not match the body ({out.strip()} {err.strip()})"
    if want_key == "args":
        enc = ""
        for a in d["args"]:
            rc, out, err = run("encode", "simple", json.dumps(untuple(a)))
            enc += out.strip()
        if enc != exp["body"]:
            return f"args {untuple(d['args'])} encode to {enc}, body is {exp['body']}"
    return None


def untuple(x):
    """Back from the order-keeping parse to plain JSON data (for re-serialising)."""
    if isinstance(x, tuple) and x[0] == "obj":
        return {k: untuple(v) for k, v in x[1]}
    if isinstance(x, list):
        return [untuple(e) for e in x]
    return x


def check_frame(v):
    global checks
    name, mode, hexs = "frames/" + v["name"], v["mode"], v["hex"]
    raw = bytes.fromhex(hexs)
    if mode in ("both", "decode"):
        for how, args, stdin in (("hex", ("decode", "frame", hexs), None),
                                 ("stdin", ("decode", "frame", "-"), raw)):
            checks += 1
            p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=30)
            out, err = p.stdout.decode(), p.stderr.decode()
            if p.returncode != 0 or err or not out.endswith("\n") or "\n" in out[:-1]:
                fail(name, f"decode ({how}): rc={p.returncode} out={out!r} err={err!r}")
                continue
            try:
                problem = check_decoded(name, loads(out), v["expect"])
            except (ValueError, KeyError, TypeError) as e:
                problem = f"bad output {out!r}: {e}"
            if problem:
                fail(name, f"decode ({how}): {problem}; output {out.strip()}")
    if mode == "both":
        checks += 1
        rc, out, err = run("encode", "frame", json.dumps(v["expect"]))
        if rc != 0 or out != hexs + "\n":
            fail(name, f"encode: rc={rc} out={out!r} err={err!r}, want {hexs}")
    if mode == "reject":
        for how, args, stdin in (("hex", ("decode", "frame", hexs), None),
                                 ("stdin", ("decode", "frame", "-"), raw)):
            checks += 1
            p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=30)
            out, err = p.stdout.decode(), p.stderr.decode("utf-8", "replace")
            if p.returncode != 1 or out or not err.startswith("error: ") or err.count("\n") != 1:
                fail(name, f"reject ({how}): rc={p.returncode} out={out!r} err={err!r}")


def main():
    if not os.access(CLI, os.X_OK):
        print(f"vectors_cli: {CLI} is missing (make tools)")
        return 1
    counts = {}
    for fname, check in (("simple.json", check_simple), ("frames.json", check_frame)):
        with open(os.path.join(VECTORS, fname), encoding="utf-8") as f:
            vectors = json.load(f)
        if not vectors:
            fail(fname, "no vectors")
        for v in vectors:
            check(v)
        counts[fname] = len(vectors)
    for f in failures:
        print("FAIL:", f)
    print(f"vectors_cli: {counts.get('simple.json', 0)} simple + {counts.get('frames.json', 0)} frame "
          f"vectors, {checks} checks, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
