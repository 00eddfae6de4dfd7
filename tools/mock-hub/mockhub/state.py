"""Request counters, the request log and injected faults, shared by both ports.

Design notes
 - one lock (State.lock) guards counters, the log and the fault list; it is never held while
   sending or sleeping;
 - a request is logged when it arrives (so a request killed by a fault still counts) and its
   entry is completed with the status and the body bytes sent;
 - faults are kept in the order they were added; every active fault that matches a request
   applies to it (later faults override the same field of earlier ones) and uses up one of its
   `count`; a used-up fault is dropped.
"""

import collections
import fnmatch
import itertools
import re
import threading
import urllib.parse

LOG_LIMIT = 100000
PORTS = ("hub", "cdn")


def _is_int(v, low):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


# field: (check, description) -- the fault JSON schema, also printed by --help
FAULT_FIELDS = {
    "path": (lambda v: isinstance(v, str) and v.startswith(("/", "*", "?", "[")),
             "request path without the query: exact, or a glob (fnmatch) if it has * ? ["),
    "port": (lambda v: v in ("hub", "cdn", "any"), '"hub", "cdn" or "any" (default)'),
    "method": (lambda v: isinstance(v, str) or (isinstance(v, list) and
                                                all(isinstance(m, str) for m in v)),
               "a method or a list of methods (default: any)"),
    "skip": (lambda v: _is_int(v, 0), "let this many matching requests through first"),
    "count": (lambda v: v is None or _is_int(v, 1),
              "apply to this many matching requests, then vanish (default: no limit)"),
    "status": (lambda v: _is_int(v, 100) and v <= 599,
               "answer this status instead (302 when only \"location\" is given)"),
    "location": (lambda v: isinstance(v, str) and v != "" and
                 not any(ord(c) < 0x20 or ord(c) == 0x7f for c in v),
                 "answer a redirect to this Location ({hub}, {cdn}: the ports' URLs, {path}, "
                 "{query}: the request's)"),
    "headers": (lambda v: isinstance(v, dict) and all(
                    isinstance(k, str) and isinstance(x, str) and re.match(r"^[!-9;-~]+$", k)
                    and not any(ord(c) < 0x20 or ord(c) == 0x7f for c in x)
                    for k, x in v.items()),
                "more headers of whichever answer goes out, {\"Name\": \"value\"}"),
    "retry_after": (lambda v: _is_int(v, 0) or isinstance(v, str),
                    "Retry-After header of the status answer"),
    "ratelimit": (lambda v: isinstance(v, str),
                  'RateLimit header of the status answer, e.g. "\\"resolvers\\";r=0;t=2"'),
    "ratelimit_policy": (lambda v: isinstance(v, str), "RateLimit-Policy header, likewise"),
    "error_code": (lambda v: isinstance(v, str), "X-Error-Code of the status answer"),
    "message": (lambda v: isinstance(v, str), "X-Error-Message and JSON error of the answer"),
    "close": (lambda v: isinstance(v, bool), "true: reset the connection without answering"),
    "reset_after": (lambda v: _is_int(v, 0),
                    "send the headers and N body bytes, then reset the connection (RST)"),
    "stall_ms": (lambda v: _is_int(v, 0), "sleep N ms before the answer"),
    "stall_after": (lambda v: _is_int(v, 0),
                    "with stall_ms: sleep after N body bytes instead of before the answer"),
    "throttle_bps": (lambda v: _is_int(v, 1), "send the body at B bytes/s on this connection"),
    "flip_offset": (lambda v: _is_int(v, 0),
                    "invert the byte at offset O of the file (any range covering O)"),
    "ignore_range": (lambda v: isinstance(v, bool),
                     "true: answer 200 with the whole body to a ranged request"),
    "short_body": (lambda v: _is_int(v, 0),
                   "send only the first N body bytes, with a Content-Length that says N"),
    "content_range": (lambda v: isinstance(v, str),
                      "Content-Range header of a 206 answer instead of the true one"),
    "body": (lambda v: isinstance(v, str),
             "send this text (UTF-8) as the body of whichever answer goes out, with its "
             "Content-Length"),
}
EFFECT_FIELDS = tuple(k for k in FAULT_FIELDS if k not in ("path", "port", "method", "skip", "count"))


class Effect:
    """What the faults matching one request ask for; every field None when no fault matched."""

    def __init__(self):
        for name in EFFECT_FIELDS:
            setattr(self, name, None)
        self.names = []

    def body_faults(self):
        return any(getattr(self, n) is not None
                   for n in ("reset_after", "stall_after", "throttle_bps", "flip_offset"))


class Fault:
    def __init__(self, fid, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        bad = [k for k in spec if k not in FAULT_FIELDS or not FAULT_FIELDS[k][0](spec[k])]
        if bad:
            k = bad[0]
            raise ValueError("fault field %r: %s" % (k, FAULT_FIELDS[k][1] if k in FAULT_FIELDS
                                                      else "unknown field"))
        if "path" not in spec:
            raise ValueError("a fault needs a path")
        if not any(k in spec for k in EFFECT_FIELDS):
            raise ValueError("a fault needs at least one of %s" % ", ".join(EFFECT_FIELDS))
        self.id = fid
        self.spec = spec
        self.seen = 0
        self.applied = 0
        methods = spec.get("method")
        self.methods = None if methods is None else \
            {m.upper() for m in ([methods] if isinstance(methods, str) else methods)}

    def matches(self, port, method, path):
        if self.spec.get("port", "any") not in ("any", port):
            return False
        if self.methods is not None and method not in self.methods:
            return False
        want = self.spec["path"]
        candidates = (path, urllib.parse.unquote(path))
        if any(c in want for c in "*?["):
            return any(fnmatch.fnmatchcase(c, want) for c in candidates)
        return want in candidates

    def remaining(self):
        count = self.spec.get("count")
        return None if count is None else count - self.applied

    def describe(self):
        return dict(self.spec, id=self.id, seen=self.seen, applied=self.applied,
                    remaining=self.remaining())


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self):
        with self.lock:
            self.seq = 0
            self.log = collections.deque(maxlen=LOG_LIMIT)
            self.counts = {p: {"total": 0, "methods": collections.Counter(), "paths": {},
                               "statuses": collections.Counter(), "bytes": 0} for p in PORTS}
            self.faults = []

    # -- requests ------------------------------------------------------------------------------

    def record(self, port, method, path, query, headers):
        """Log an arriving request; returns its log entry."""
        auth = headers.get("Authorization")
        entry = {
            "port": port, "method": method, "path": path, "query": query,
            "authorization": auth is not None,
            "range": headers.get("Range"),
            "accept_encoding": headers.get("Accept-Encoding"),
            "user_agent": headers.get("User-Agent"),
            "if_none_match": headers.get("If-None-Match"),
            "headers": {k.lower(): ("<redacted>" if k.lower() == "authorization" else v)
                        for k, v in headers.items()},
            "status": None, "bytes": 0, "faults": [],
        }
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            c = self.counts[port]
            c["total"] += 1
            c["methods"][method] += 1
            c["paths"].setdefault(path, collections.Counter())[method] += 1
            self.log.append(entry)
        return entry

    def answered(self, entry, status):
        with self.lock:
            entry["status"] = status
            self.counts[entry["port"]]["statuses"][str(status)] += 1

    def sent(self, entry, nbytes):
        with self.lock:
            entry["bytes"] += nbytes
            self.counts[entry["port"]]["bytes"] += nbytes

    def stats(self):
        with self.lock:
            out = {"total": sum(c["total"] for c in self.counts.values())}
            for port, c in self.counts.items():
                out[port] = {"total": c["total"], "methods": dict(c["methods"]),
                             "paths": {p: dict(m) for p, m in c["paths"].items()},
                             "statuses": dict(c["statuses"]), "bytes": c["bytes"]}
            return out

    def requests(self, port=None, path=None, since=0):
        with self.lock:
            entries = [dict(e) for e in self.log if e["seq"] > since]
        return [e for e in entries if (port is None or e["port"] == port) and
                (path is None or fnmatch.fnmatchcase(e["path"], path))]

    # -- faults --------------------------------------------------------------------------------

    def add_faults(self, specs):
        """Validate all, then add all; raises ValueError naming the first bad field."""
        made = [Fault(0, spec) for spec in specs]
        with self.lock:
            for f in made:
                f.id = next(self._ids)
            self.faults.extend(made)
        return [f.describe() for f in made]

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def list_faults(self):
        with self.lock:
            return [f.describe() for f in self.faults]

    def effect(self, port, method, path, entry):
        """Consume the faults matching this request and merge what they ask for."""
        eff = Effect()
        with self.lock:
            for f in self.faults:
                if not f.matches(port, method, path):
                    continue
                f.seen += 1
                if f.seen <= f.spec.get("skip", 0):
                    continue
                f.applied += 1
                for name in EFFECT_FIELDS:
                    if name in f.spec:
                        setattr(eff, name, f.spec[name])
                eff.names.append(f.id)
            self.faults = [f for f in self.faults if f.remaining() != 0]
            entry["faults"] = list(eff.names)
        return eff
