"""The Hub port: resolve URLs, the REST API and the /_mock/ control endpoints.

Design notes
 - URLs are split on `/` while still percent-encoded, then each segment is decoded, so a revision
   sent as `refs%2Fpr%2F1` is one segment; `refs/pr/N` sent unencoded is accepted too;
 - a repo id is two segments (ORG/NAME) or, failing that, one (a legacy id such as gpt2);
 - order of checks for a repo: with --strict-tokens, a token it does not know (401 without
   X-Error-Code, X-Error-Message "Invalid credentials in Authorization header": huggingface.co
   refuses a stale token even for a public repo), rename or wrong casing (307, relative),
   existence (401 RepoNotFound), private (401 RepoNotFound without a valid token), disabled (403), and for file
   content only, gated (401 / 403 GatedRepo); then the revision (404 RevisionNotFound) and the
   path (404 EntryNotFound, with X-Repo-Commit).
"""

import base64
import hashlib
import json
import mimetypes
import urllib.parse

from .repos import COMMIT_RE, REPO_TYPES, SEGMENT_RE, HubError
from .server import Answer, Response, file_response, json_response

API_VERBS = ("revision", "tree", "paths-info", "refs")
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
READ = ("GET", "HEAD")
TRUE = ("1", "true", "yes", "on")


def _truthy(value):
    return value is True or (isinstance(value, str) and value.lower() in TRUE)


def _method(req, allowed):
    if req.method not in allowed:
        raise Answer(json_response(405, {"error": "Method not allowed"},
                                   [("Allow", ", ".join(allowed))]))


def _not_found():
    return HubError(404, None, "Sorry, we can't find the page you are looking for.")


def split_revision(parts):
    """(revision, path) from decoded segments; `refs/{pr,heads,tags,convert}/X` may come unencoded."""
    if not parts:
        raise _not_found()
    if len(parts) >= 3 and parts[0] == "refs" and parts[1] in ("pr", "heads", "tags", "convert"):
        rev, rest = "/".join(parts[:3]), parts[3:]
    else:
        rev, rest = parts[0], parts[1:]
    path = "/".join(rest).strip("/")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise HubError(400, None, "Invalid path: %s" % path)
    return rev, path


def _decode(raw):
    return [urllib.parse.unquote(s) for s in raw]


class HubRoutes:
    def __init__(self, app):
        self.app = app
        self.hub = app.hub

    def __call__(self, req):
        raw = req.path.split("/")[1:]
        if raw[:1] == ["api"]:
            return self.api(req, raw)
        at = 1 if raw[:1] in (["datasets"], ["spaces"]) else 0
        rtype = raw[0] if at else "models"
        for n in (2, 1):
            if len(raw) > at + n + 1 and raw[at + n] == "resolve":
                _method(req, READ)
                repo = self._repo(req, rtype, raw, at, n, content=True)
                rev, path = split_revision(_decode(raw[at + n + 1:]))
                return self._file(req, repo, rev, path, via_cache=False)
        raise _not_found()

    # -- repos and access ----------------------------------------------------------------------

    def _repo(self, req, rtype, raw, at, n, content):
        """The repo named by raw[at:at+n]; answers the 307 of a renamed or miscased repo."""
        repo, canonical = self.hub.find(rtype, _decode(raw[at:at + n]))
        if self.app.strict_tokens and req.token is not None and \
                not (req.token in self.hub.tokens or (repo is not None and repo.token_ok(req.token))):
            raise HubError(401, None, INVALID_CREDENTIALS)
        if repo is not None and repo.renamed_to is not None:
            canonical = repo.renamed_to
            if not isinstance(canonical, str) or not 1 <= len(canonical.split("/")) <= 2 or \
                    not all(SEGMENT_RE.match(p) for p in canonical.split("/")):
                raise HubError(500, None, "%s: bad renamed_to %r" % (repo.id, canonical))
        if canonical is not None:
            location = "/" + "/".join(raw[:at] + canonical.split("/") + raw[at + n:])
            if req.query:
                location += "?" + req.query
            raise Answer(Response(307, [("Location", location),
                                        ("Content-Type", "text/plain; charset=utf-8")],
                                  b"Temporary Redirect. Redirecting to " + location.encode()))
        if repo is None or (repo.private and not repo.token_ok(req.token)):
            raise HubError(401, "RepoNotFound", "Repository not found")
        if repo.disabled:
            raise HubError(403, None, "Access to this resource is disabled.")
        if content and repo.gated and not repo.token_ok(req.token):
            kind = repo.type[:-1]
            if req.token is None:
                raise HubError(401, "GatedRepo", "Access to %s %s is restricted. You must have "
                               "access to it and be authenticated to access it. Please log in."
                               % (kind, repo.id))
            raise HubError(403, "GatedRepo", "Access to %s %s is restricted and you are not in "
                           "the authorized list." % (kind, repo.id))
        return repo

    # -- files ---------------------------------------------------------------------------------

    def _file(self, req, repo, rev, path, via_cache):
        snap = repo.snapshot(rev)
        commit = ("X-Repo-Commit", snap.commit)
        f = snap.files.get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found", [commit])
        if f.lfs:
            location = self.app.cdn.url_for(repo, f)
            return Response(302, [commit, ("X-Linked-Etag", '"%s"' % f.etag),
                                  ("X-Linked-Size", str(f.size)), ("Location", location),
                                  ("Content-Type", "text/plain; charset=utf-8")],
                            b"Found. Redirecting to " + location.encode())
        if self.app.resolve_cache and not via_cache:
            location = "/api/resolve-cache/%s/%s/%s/%s?etag=%s" % (
                repo.type, repo.id, snap.commit, urllib.parse.quote(path),
                urllib.parse.quote('"%s"' % f.oid, safe=""))
            return Response(307, [commit, ("Location", location),
                                  ("Content-Type", "text/plain; charset=utf-8")],
                            b"Temporary Redirect. Redirecting to " + location.encode())
        name = path.rsplit("/", 1)[-1]
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        disposition = "inline; filename*=UTF-8''%s; filename=\"%s\";" % (
            urllib.parse.quote(name), name.encode("ascii", "replace").decode().replace('"', "_"))
        return file_response(req, f.fs, f.size, f.oid, [
            commit, ("Content-Type", ctype), ("Content-Disposition", disposition)])

    def _resolve_cache(self, req, raw):
        """/api/resolve-cache/{type}s/{repo}/{commit}/{path}: where --resolve-cache sends
        regular files, as the Hub does since 2025."""
        _method(req, READ)
        for n in (2, 1):
            if len(raw) > 4 + n and COMMIT_RE.match(raw[3 + n]) and raw[2] in REPO_TYPES:
                repo = self._repo(req, raw[2], raw, 3, n, content=True)
                rev, path = split_revision(_decode(raw[3 + n:]))
                return self._file(req, repo, rev, path, via_cache=True)
        raise _not_found()

    # -- API -----------------------------------------------------------------------------------

    def api(self, req, raw):
        if raw[1:2] == ["resolve-cache"]:
            return self._resolve_cache(req, raw)
        rest = raw[2:]
        if len(raw) < 3 or raw[1] not in REPO_TYPES:
            raise _not_found()
        if len(rest) == 2 or (len(rest) >= 3 and rest[2] in API_VERBS):
            n = 2
        elif len(rest) == 1 or rest[1] in API_VERBS:
            n = 1
        else:
            raise _not_found()
        repo = self._repo(req, raw[1], raw, 2, n, content=False)
        verb = rest[n] if len(rest) > n else None
        args = _decode(rest[n + 1:])
        if verb is None or verb == "revision":
            _method(req, READ)
            return self._info(req, repo, "/".join(args) if verb else "main")
        if verb == "tree":
            _method(req, READ)
            return self._tree(req, repo, args)
        if verb == "paths-info":
            _method(req, ("POST",))
            return self._paths_info(req, repo, "/".join(args))
        _method(req, READ)
        return self._refs(req, repo)

    def _info(self, req, repo, rev):
        snap = repo.snapshot(rev)
        blobs = req.flag("blobs")
        siblings = []
        for path, f in sorted(snap.files.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(size=f.size, blobId=f.oid)
                if f.lfs:
                    sibling["lfs"] = {"sha256": f.lfs["oid"], "size": f.size,
                                      "pointerSize": f.lfs["pointerSize"]}
            siblings.append(sibling)
        gated = repo.gated if repo.gated in (False, "auto", "manual") else "auto"
        info = {
            "_id": hashlib.sha1(("%s/%s" % (repo.type, repo.id)).encode()).hexdigest()[:24],
            "id": repo.id, "author": repo.id.split("/")[0] if "/" in repo.id else None,
            "sha": snap.commit, "lastModified": snap.date, "createdAt": snap.date,
            "private": repo.private, "gated": gated, "disabled": repo.disabled,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
            "usedStorage": sum(f.size for f in snap.files.values()),
        }
        cap = self.app.siblings_cap
        if cap == -1:
            del info["siblings"]
        elif cap is not None:
            info["siblings"] = siblings[:cap]
        if repo.type == "models":
            info["modelId"] = repo.id
        expand = req.args.get("expand", []) + req.args.get("expand[]", [])
        if expand:
            info = {k: v for k, v in info.items() if k in expand or k in ("_id", "id")}
        return json_response(200, info)

    def _tree(self, req, repo, args):
        rev, path = split_revision(args)
        snap = repo.snapshot(rev)
        if path and path not in snap.dirs:
            raise HubError(404, "EntryNotFound", "%s does not exist on %s" % (path, rev),
                           [("X-Repo-Commit", snap.commit)])
        paths = snap.listing(path, req.flag("recursive"))
        try:
            limit = int(req.arg("limit", self.app.page_size))
            cursor = req.arg("cursor")
            offset = (int(base64.urlsafe_b64decode(cursor.encode()).split(b";")[0].decode())
                      if cursor else 0)
        except ValueError:
            raise HubError(400, None, "Invalid limit or cursor")
        limit = max(1, min(limit, 1000))
        expand = req.flag("expand")
        entries = [snap.entry(p, expand) for p in paths[offset:offset + limit]]
        headers = []
        if offset + limit < len(paths):
            query = [(k, v) for k, v in urllib.parse.parse_qsl(req.query, keep_blank_values=True)
                     if k != "cursor"]
            raw = b"%d;" % (offset + limit)
            raw += b"p" * max(0, self.app.cursor_bytes * 3 // 4 - len(raw))
            query.append(("cursor", base64.urlsafe_b64encode(raw).decode()))
            url = "%s%s?%s" % (self.app.hub_url, req.path, urllib.parse.urlencode(query))
            headers.append(("Link", '<%s>; rel="next"' % url))
        return json_response(200, entries, headers)

    def _paths_info(self, req, repo, rev):
        ctype = (req.headers.get("Content-Type") or "").lower()
        try:
            if "json" in ctype or req.body.lstrip()[:1] == b"{":
                data = json.loads(req.body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                paths, expand = data.get("paths"), data.get("expand", False)
            else:
                form = urllib.parse.parse_qs(req.body.decode(), keep_blank_values=True)
                paths = form.get("paths", []) + form.get("paths[]", [])
                expand = form.get("expand", ["false"])[-1]
        except (ValueError, UnicodeDecodeError) as e:
            raise HubError(400, None, "Invalid body: %s" % e)
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise HubError(400, None, "paths must be a list of strings")
        snap = repo.snapshot(rev)
        found = (snap.entry(p.strip("/"), _truthy(expand)) for p in paths)
        return json_response(200, [e for e in found if e is not None])

    def _refs(self, req, repo):
        out = {"branches": [], "tags": [], "converts": []}
        prs = []
        for name, spec in repo.revisions().items():
            commit = repo.snapshot(name).commit
            kind = repo.revision_kind(name, spec)
            if kind == "pr":
                prs.append({"name": name, "ref": name, "targetCommit": commit})
            else:
                ref = "refs/%s/%s" % ("tags" if kind == "tag" else "heads", name)
                out["tags" if kind == "tag" else "branches"].append(
                    {"name": name, "ref": ref, "targetCommit": commit})
        if req.flag("include_prs"):
            out["pullRequests"] = prs
        return json_response(200, out)


class Control:
    """/_mock/stats, /_mock/requests, /_mock/faults and /_mock/reset (Hub port only)."""

    def __init__(self, state, snapshots=None):
        self.state = state
        self.snapshots = snapshots

    def __call__(self, req):
        what = req.path[len("/_mock/"):].strip("/")
        if what == "stats":
            _method(req, READ)
            return json_response(200, self.state.stats())
        if what == "requests":
            _method(req, READ)
            try:
                since = int(req.arg("since", 0))
            except ValueError:
                raise HubError(400, None, "since must be an integer")
            return json_response(200, {"requests": self.state.requests(
                req.arg("port"), req.arg("path"), since)})
        if what == "faults":
            _method(req, READ + ("POST", "DELETE"))
            if req.method == "POST":
                return json_response(200, {"faults": self._add_faults(req.body)})
            if req.method == "DELETE":
                self.state.clear_faults()
            return json_response(200, {"faults": self.state.list_faults()})
        if what == "reset":
            _method(req, ("POST",))
            self.state.reset()
            if self.snapshots:
                self.snapshots.forget()     # files changed by the test are read again
            return json_response(200, {"ok": True})
        raise _not_found()

    def _add_faults(self, body):
        try:
            specs = json.loads(body or b"null")
            if isinstance(specs, dict) and isinstance(specs.get("faults"), list):
                specs = specs["faults"]
            return self.state.add_faults(specs if isinstance(specs, list) else [specs])
        except ValueError as e:
            raise HubError(400, None, "bad fault: %s" % e)
