"""Command line, --help (the mock's documentation) and the server's life: start, print, stop."""

import argparse
import os
import signal
import ssl
import sys
import threading

from . import repos
from .cdn import Cdn
from .hub import Control, HubRoutes
from .server import Server
from .state import FAULT_FIELDS, Effect, State

DESCRIPTION = """\
hf-mock-hub serves a folder of repositories over the Hugging Face Hub protocol on two loopback
ports: the Hub (resolve URLs, /api/...) and a "CDN" that serves LFS content from signed URLs.
Once both listen it prints exactly one line, `listening <hub-url> <cdn-url>`, and it stops
cleanly (exit status 0) on SIGTERM or SIGINT. With --tls-cert and --tls-key both ports speak
HTTPS (TLS 1.2 or later, the handshake in each connection's own thread) and the printed URLs,
the CDN redirects and the Link headers start with https://. Python 3 standard library only."""

EPILOG = """\
LAYOUT
  ROOT/models/ORG/NAME/<files>     model ORG/NAME (ROOT/models/NAME serves the legacy id NAME
                                   when it holds files at its top; a folder with only folders
                                   there is an organisation, and no repo: 401 RepoNotFound)
  ROOT/datasets/ORG/NAME/<files>   dataset ORG/NAME (URLs /datasets/ORG/NAME/..., /api/datasets/..)
  ROOT/spaces/ORG/NAME/<files>     space ORG/NAME
  A repo's files are all the files below its folder except, at its top, .mockhub.json (its
  settings), .mockhub/ (a place for other revisions' content) and .git/; a file is served only if
  its real path lies under ROOT. A file is an LFS file if its size is at least --lfs-threshold
  (or the repo's lfs_threshold), or if it matches a pattern with filter=lfs in the revision's
  .gitattributes, or a pattern of the settings' "lfs" list (.gitattributes syntax: no slash =
  any folder, `*` stays within a folder, `**/` spans folders).

SETTINGS (REPO/.mockhub.json, optional, every key optional)
  {"private": true,                  401 RepoNotFound for anything without a valid token
   "gated": "auto" | "manual" | true,  file content needs a valid token (401 GatedRepo without
                                     one, 403 GatedRepo with another); the API stays open
   "disabled": true,                 403 "Access to this resource is disabled."
   "tokens": ["hf_test_123"],        tokens valid for this repo, besides every --token
   "renamed_to": "NewOrg/new-name",  every URL naming this repo answers 307 with a relative
                                     Location: the same URL with the new id (API calls too)
   "lfs": ["*.bin", "weights/**"],   more LFS patterns
   "lfs_threshold": 1048576,         this repo's LFS size threshold
   "title": "...", "date": "2024-01-01T00:00:00.000Z",   commit title and date (all revisions)
   "revisions": {                    revisions besides "main" (list "main" to change it)
     "v1.0": {"dir": ".mockhub/v1.0", "type": "tag"},   content of that folder (relative to REPO)
     "refs/pr/1": {"title": "Fix"},                       main's content, another commit
     "stable": {"target": "v1.0"}}}                       the same commit as another revision
  Revision keys: dir (default "."), target, type ("branch" by default, or "tag"; refs/pr/N names
  a pull request), title (default: main "Upload folder using huggingface_hub", others
  "Update <name>"), date. `refs/heads/X` and `refs/tags/X` name branch or tag X too, and
  HEAD names main.

COMMITS AND OIDS
  A file's oid is the git blob sha1 of its content (regular file) or of its LFS pointer (LFS
  file); a folder's oid is its git tree sha1; the commit is the sha1 of a parentless git commit
  of that tree (author "Mock Hub", the date, the title): the same content, settings and options
  give the same commits on every run. A 40-hex revision names the revision with that commit.

HUB PORT
  HEAD|GET /{""|datasets/|spaces/}REPO/resolve/REV/PATH   REV percent-encoded (refs%2Fpr%2F1)
    regular file: 200, 206 (Range, with Content-Range), 304 (If-None-Match) or 416, with
      ETag "<git blob sha1>", X-Repo-Commit, Content-Length, Accept-Ranges: bytes; with
      --resolve-cache a 307 (relative) to /api/resolve-cache/{type}s/REPO/COMMIT/PATH first
    LFS file: 302 with Location <absolute signed URL on the CDN port, or --cdn-url>, X-Linked-Etag
      "<sha256>", X-Linked-Size, X-Repo-Commit (GET or HEAD, with or without Range)
  GET  /api/{models|datasets|spaces}/REPO[/revision/REV][?blobs=true][&expand=FIELD...]
       {_id,id,author,sha,lastModified,createdAt,private,gated,disabled,downloads,likes,tags,
        siblings:[{rfilename[,size,blobId,lfs:{sha256,size,pointerSize}]}],usedStorage[,modelId]}
       siblings sorted by path; --siblings-cap N keeps the first N (0: an empty list, "none": no
       siblings key at all), as huggingface.co cuts the list short for very large repos
  GET  /api/{type}s/REPO/tree/REV[/PATH][?recursive=true][&expand=true][&limit=N][&cursor=C]
       [{type:"file"|"directory",oid,size,path[,lfs:{oid,size,pointerSize}]
         [,lastCommit:{id,title,date},securityFileStatus]}]: --page-size entries a page, then
       Link: <absolute URL>; rel="next" while entries remain (its cursor at least
       --cursor-bytes long)
  POST /api/{type}s/REPO/paths-info/REV   JSON {"paths": [...], "expand": true} or a form
       paths=a&paths=b&expand=true: the entries (as in the tree) of the paths that exist
  GET  /api/{type}s/REPO/refs[?include_prs=1]   {branches, tags, converts[, pullRequests]}
  Errors: JSON {"error": MESSAGE} with X-Error-Message and, where the Hub sends one, X-Error-Code:
    401 RepoNotFound (no such repo, or private without a valid token), 401/403 GatedRepo,
    404 RevisionNotFound, 404 EntryNotFound (with X-Repo-Commit), 400 (a path with . or ..),
    405; a renamed or miscased repo answers 307 with a relative Location.

CDN PORT
  HEAD|GET /repos/{type}s/REPO/SHA256/PATH?...&Expires=E&Signature=S (as handed out by the Hub):
  200, 206 with Content-Range: bytes a-b/size, 304 or 416, with ETag "<sha256>" and
  Accept-Ranges: bytes; 403 when the signature is missing or altered, 404 for unknown content.
  Authorization is ignored (and recorded). --throttle-bps limits each CDN body.

CONTROL (Hub port; these requests are not counted)
  GET  /_mock/stats   {"total": N, "hub": PORT, "cdn": PORT} with PORT = {"total": N,
       "methods": {"GET": N, ...}, "paths": {PATH: {"GET": N, "HEAD": N, ...}},
       "statuses": {"200": N, ...}, "bytes": N}; PATH as sent (percent-encoded), no query
  GET  /_mock/requests[?port=hub|cdn][&path=GLOB][&since=SEQ]   {"requests": [{"seq", "port",
       "method", "path", "query", "status", "bytes", "authorization": true|false, "range",
       "accept_encoding", "user_agent", "if_none_match", "headers": {lower-case name: value,
       authorization "<redacted>"}, "faults": [ids]}]}, the last 100000 of both ports
  POST /_mock/faults  a fault, a list of faults or {"faults": [...]}; answers {"faults": [...]}
       with their ids; 400 names the first bad field
  GET  /_mock/faults  the active faults, with seen/applied/remaining; DELETE removes them all
  POST /_mock/reset   clears the counters, the request log and the faults, and makes every
                      repo's files be read again (otherwise they are re-read at most every 0.5 s)

FAULTS (JSON object; only "path" and one effect are required)
@FAULT_FIELDS@
  Every active fault that matches a request (port, method, path) applies to it, in the order
  they were added (a later one overrides the same field); "skip" lets the first N matching
  requests through, then "count" limits how many it applies to before it vanishes.
  Examples: {"path": "/org/m/resolve/main/config.json", "status": 503, "retry_after": 1,
             "count": 2}
            {"path": "/repos/models/org/m/*", "port": "cdn", "reset_after": 65536, "count": 1}
            {"path": "*/model.bin", "status": 429, "ratelimit": "\\"resolvers\\";r=0;t=1"}
            {"path": "/repos/*", "port": "cdn", "status": 307,
             "location": "http://localhost:PORT{path}?{query}", "count": 1}
""".replace("@FAULT_FIELDS@", "\n".join("  %-17s %s" % (name, doc)
                                         for name, (_, doc) in FAULT_FIELDS.items()))


class App:
    """What the routes of both ports share."""

    def __init__(self, args):
        self.verbose = args.verbose
        self.state = State()
        self.no_effect = Effect()
        self.hub = repos.Hub(args.root, args.lfs_threshold, args.token)
        self.page_size = args.page_size
        self.cursor_bytes = args.cursor_bytes
        self.siblings_cap = args.siblings_cap
        self.resolve_cache = args.resolve_cache
        self.strict_tokens = args.strict_tokens
        self.cdn = Cdn(self, args.cdn_url_expiry, args.throttle_bps)
        self.hub_url = self.cdn_url = None
        self._log_lock = threading.Lock()

    def log(self, message):
        if self.verbose:
            self.warn(message)

    def warn(self, message):
        with self._log_lock:
            sys.stderr.write(message.rstrip("\n") + "\n")
            sys.stderr.flush()


def _positive(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _port(text):
    """--port, --cdn-port: 0 (any free port) to 65535."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535")
    return value


def _siblings_cap(text):
    """--siblings-cap: a count >= 0, or "none" (-1: the key is left out)."""
    if text == "none":
        return -1
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, or none")
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(prog="hf-mock-hub", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, metavar="DIR", help="the folder of repos to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="Hub port (default 0: any free port)")
    p.add_argument("--cdn-port", type=_port, default=0, help="CDN port (default 0: any free port)")
    p.add_argument("--cdn-host", metavar="NAME",
                   help="host name in CDN URLs (default: --host), e.g. localhost to make the CDN "
                        "a different host as well as a different port")
    p.add_argument("--cdn-url", metavar="BASE",
                   help="put BASE (e.g. http://127.0.0.1:8080) instead of the CDN port's URL in "
                        "LFS redirects: Location BASE/repos/{type}s/REPO/SHA256/PATH?...; another "
                        "server (nginx aliasing ROOT, say) then serves the bytes. The CDN port "
                        "still listens and is the one printed")
    p.add_argument("--page-size", type=_positive, default=50, metavar="N",
                   help="tree listing entries per page (default 50)")
    p.add_argument("--cursor-bytes", type=_positive, default=0, metavar="N",
                   help="make each tree listing cursor at least N bytes long (the Hub's "
                        "cursors are opaque and grow with the path they name; default 0: short)")
    p.add_argument("--siblings-cap", type=_siblings_cap, metavar="N|none",
                   help="repo info lists at most N siblings (0: an empty list; none: no "
                        "\"siblings\" key), as the Hub does for very large repos "
                        "(default: all of them)")
    p.add_argument("--lfs-threshold", type=int, default=10 << 20, metavar="BYTES",
                   help="files this large or larger are LFS files (default 10485760)")
    p.add_argument("--token", action="append", default=[], metavar="TOKEN",
                   help="a token valid for every private or gated repo (repeatable)")
    p.add_argument("--strict-tokens", action="store_true",
                   help="answer a token the mock does not know (not a --token, not in the "
                        "repo's \"tokens\") with 401 and X-Error-Message \"Invalid credentials "
                        "in Authorization header\", no X-Error-Code, on every Hub request, "
                        "public repos included, as huggingface.co does")
    p.add_argument("--throttle-bps", type=_positive, metavar="B",
                   help="send each CDN body at B bytes/s at most (a fault may set its own)")
    p.add_argument("--resolve-cache", action="store_true",
                   help="answer regular files with a relative 307 to /api/resolve-cache/..., "
                        "as huggingface.co does since 2025")
    p.add_argument("--cdn-url-expiry", type=_positive, default=3600, metavar="SECONDS",
                   help="lifetime of signed CDN URLs (default 3600)")
    p.add_argument("--tls-cert", metavar="FILE",
                   help="serve both ports over HTTPS with this PEM certificate (chain); needs "
                        "--tls-key. Clients must trust it (its CA) to connect")
    p.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def _tls_context(args):
    """A server-side TLS context for --tls-cert/--tls-key, or None without them."""
    if not args.tls_cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def _raise_fd_limit():
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else hard
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        sys.stderr.write("hf-mock-hub: --root %s is not a folder\n" % args.root)
        return 2
    _raise_fd_limit()
    threading.stack_size(1 << 20)       # a thread per connection: keep thousands of them light
    try:
        tls = _tls_context(args)
    except (OSError, ValueError) as e:
        sys.stderr.write("hf-mock-hub: cannot load the TLS certificate or key: %s\n" % e)
        return 2
    app = App(args)
    try:
        hub = Server((args.host, args.port), app, "hub", HubRoutes(app),
                     Control(app.state, app.hub.snapshots), tls=tls)
        cdn = Server((args.host, args.cdn_port), app, "cdn", app.cdn, tls=tls)
    except OSError as e:
        sys.stderr.write("hf-mock-hub: cannot listen: %s\n" % e)
        return 1
    scheme = "https" if tls else "http"
    app.hub_url = "%s://%s:%d" % (scheme, args.host, hub.server_address[1])
    app.cdn_url = "%s://%s:%d" % (scheme, args.cdn_host or args.host, cdn.server_address[1])
    app.cdn.base_url = args.cdn_url.rstrip("/") if args.cdn_url else app.cdn_url

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for server in (hub, cdn):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
    print("listening %s %s" % (app.hub_url, app.cdn_url), flush=True)
    while not stop.wait(0.5):
        pass
    for server in (hub, cdn):
        server.shutdown()
        server.server_close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)      # connection threads may still be sleeping in a stall: do not wait for them
