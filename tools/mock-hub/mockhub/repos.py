"""Repositories on disk: layout, per-repo settings, snapshots, hashes and commits.

Design notes
 - a repo is the folder ROOT/{models,datasets,spaces}/ORG/NAME (or ROOT/models/NAME for a legacy
   one-segment id); ids are validated segment by segment, so a URL never names a path outside ROOT;
   a folder right below ROOT/{type} is a legacy repo if it holds files at its top, else an
   organisation: never both, so no URL serves one repo's files as another's (Hub._is_repo);
 - files are served only from a Snapshot, the map {path: FileEntry} built by walking a revision's
   folder: a URL path is looked up in that map and never joined onto the filesystem, so `..` in a
   URL cannot reach anything; symlinked files are kept only if their real path lies under ROOT;
 - hashes are cached per file and keyed by (size, mtime, inode), so a file is hashed once, by one
   thread, however many requests arrive together; snapshots are rebuilt when the walk differs;
 - oids are real git object ids: blob sha1 of the content (regular files) or of the LFS pointer
   (LFS files), tree sha1 per folder, and a parentless commit whose author, date and message are
   fixed by the settings, so the same content always gives the same commit, across restarts.
"""

import datetime
import hashlib
import json
import os
import re
import stat
import threading
import time

SETTINGS_NAME = ".mockhub.json"
PRIVATE_DIR = ".mockhub"
HIDDEN_TOP = frozenset((SETTINGS_NAME, PRIVATE_DIR, ".git"))
REPO_TYPES = ("models", "datasets", "spaces")
DEFAULT_DATE = "2024-01-01T00:00:00.000Z"
DEFAULT_TITLE = "Upload folder using huggingface_hub"
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SETTINGS_KEYS = frozenset(("private", "gated", "disabled", "tokens", "renamed_to", "lfs",
                           "lfs_threshold", "title", "date", "revisions"))
REVISION_KEYS = frozenset(("dir", "target", "type", "title", "date"))
CHUNK = 1 << 20


class HubError(Exception):
    """An error answer: HTTP status, X-Error-Code (or None) and message."""

    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def git_object_id(kind, data):
    """The git object id of `data` stored as `kind` (blob, tree, commit)."""
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


def lfs_pointer(sha256, size):
    """The bytes of the git LFS pointer file git stores for an LFS file."""
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
            % (sha256, size)).encode()


def _hash_file(path, size, algo):
    """Hash a file in chunks: "sha256" of the content, or "git" (the git blob sha1)."""
    if algo == "sha256":
        h = hashlib.sha256()
    else:
        h = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class HashCache:
    """Per-file digests, computed once per (size, mtime, inode) even under concurrent requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = {}
        self._busy = {}

    def digest(self, path, st, algo):
        key = (path, algo)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            hit = self._done.get(key)
            if hit and hit[0] == stamp:
                return hit[1]
            file_lock = self._busy.setdefault(key, threading.Lock())
        with file_lock:
            with self._lock:
                hit = self._done.get(key)
            if hit and hit[0] == stamp:
                return hit[1]
            value = _hash_file(path, st.st_size, algo)
            with self._lock:
                self._done[key] = (stamp, value)
            return value


def git_glob(pattern):
    """Compile a .gitattributes pattern: without a slash it matches the basename at any depth;
    with one it matches from the repo root; `*` and `?` stop at `/`, `**/` spans folders."""
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            j = pattern.index("]", i + 2)
            body = pattern[i + 1:j]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile(("" if anchored else "(?:.*/)?") + "".join(out) + r"\Z")


def gitattributes_lfs_patterns(path):
    """The patterns of a .gitattributes file that carry filter=lfs."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        words = line.split()
        if words and not words[0].startswith("#") and "filter=lfs" in words[1:]:
            found.append(words[0])
    return found


def _epoch(date_iso):
    try:
        when = datetime.datetime.fromisoformat(date_iso.replace("Z", "+00:00"))
    except ValueError as e:
        raise HubError(500, None, "bad date %r in %s: %s" % (date_iso, SETTINGS_NAME, e))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


class FileEntry:
    """One file of a snapshot."""

    __slots__ = ("path", "fs", "size", "oid", "lfs")

    def __init__(self, path, fs, size, oid, lfs):
        self.path, self.fs, self.size, self.oid, self.lfs = path, fs, size, oid, lfs

    @property
    def etag(self):
        """The resolve ETag: sha256 of the content for LFS files, git blob sha1 otherwise."""
        return self.lfs["oid"] if self.lfs else self.oid


class Snapshot:
    """A revision's content: files, folders (with git tree oids) and its commit."""

    def __init__(self, name, files, title, date):
        self.name = name
        self.files = files                     # {path: FileEntry}
        self.title = title
        self.date = date
        self.dirs = {}                         # {path: tree oid}; "" is the root
        self.tree = self._tree_oid("", self._nest())
        ident = "Mock Hub <mock-hub@hfasync.invalid> %d +0000" % _epoch(date)
        body = "tree %s\nauthor %s\ncommitter %s\n\n%s\n" % (self.tree, ident, ident, title)
        self.commit = git_object_id("commit", body.encode())

    def _nest(self):
        root = {}
        for path, entry in self.files.items():
            node = root
            parts = path.split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = entry
        return root

    def _tree_oid(self, prefix, node):
        items = []
        for name, child in node.items():
            path = prefix + name
            if isinstance(child, dict):
                oid = self._tree_oid(path + "/", child)
                items.append((name + "/", b"40000 ", name, oid))
            else:
                items.append((name, b"100644 ", name, child.oid))
        items.sort(key=lambda item: item[0].encode())   # git orders folders as "name/"
        data = b"".join(mode + name.encode() + b"\0" + bytes.fromhex(oid)
                        for _, mode, name, oid in items)
        oid = git_object_id("tree", data)
        self.dirs[prefix.rstrip("/")] = oid
        return oid

    def last_commit(self):
        return {"id": self.commit, "title": self.title, "date": self.date}

    def entry(self, path, expand=False):
        """The tree-listing / paths-info entry of a file or folder, or None."""
        f = self.files.get(path)
        if f is not None:
            out = {"type": "file", "oid": f.oid, "size": f.size, "path": path}
            if f.lfs:
                out["lfs"] = dict(f.lfs)
        elif path and path in self.dirs:
            out = {"type": "directory", "oid": self.dirs[path], "size": 0, "path": path}
        else:
            return None
        if expand:
            out["lastCommit"] = self.last_commit()
            if out["type"] == "file":
                out["securityFileStatus"] = {"status": "safe"}
        return out

    def listing(self, path, recursive):
        """Paths under folder `path` ("" is the root): at each level folders first, then files,
        each by name; a recursive listing puts a folder's content right after it."""
        children = {}
        prefix = path + "/" if path else ""
        for p in list(self.dirs) + list(self.files):
            if p and p.startswith(prefix) and "/" not in p[len(prefix):]:
                children[p] = p in self.dirs
        out = []
        for p in sorted(children, key=lambda p: (not children[p], p)):
            out.append(p)
            if recursive and children[p]:
                out.extend(self.listing(p, True))
        return out


class Repo:
    """A repository folder and its settings."""

    def __init__(self, hub, rtype, rid, folder, settings):
        self.hub = hub
        self.type = rtype                        # "models", "datasets" or "spaces"
        self.id = rid
        self.folder = folder
        self.settings = settings
        self.private = bool(settings.get("private", False))
        self.gated = settings.get("gated", False)
        self.disabled = bool(settings.get("disabled", False))
        self.renamed_to = settings.get("renamed_to")
        self.tokens = frozenset(settings.get("tokens", ()))

    def token_ok(self, token):
        return token is not None and (token in self.tokens or token in self.hub.tokens)

    def revisions(self):
        """{name: spec} for every revision; "main" is always there."""
        revs = {"main": {}}
        revs.update(self.settings.get("revisions", {}))
        return revs

    def revision_kind(self, name, spec):
        if name.startswith("refs/pr/"):
            return "pr"
        return "tag" if spec.get("type") == "tag" else "branch"

    def _lookup(self, rev):
        revs = self.revisions()
        if rev in revs:
            return rev
        if rev == "HEAD":                        # git's name for the default branch
            return "main"
        for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
            name = rev[len(prefix):]
            if rev.startswith(prefix) and name in revs and \
                    self.revision_kind(name, revs[name]) == kind:
                return name
        return None

    def snapshot(self, rev):
        """The snapshot of a branch, tag, refs/pr/N or 40-hex commit; RevisionNotFound if none."""
        name = self._lookup(rev)
        if name is not None:
            return self._build(name, 0)
        if COMMIT_RE.match(rev):
            for name in self.revisions():
                snap = self._build(name, 0)
                if snap.commit == rev:
                    return snap
        raise HubError(404, "RevisionNotFound", "Invalid rev id: %s" % rev)

    def _build(self, name, depth):
        revs = self.revisions()
        spec = revs[name]
        target = spec.get("target")
        if target is not None:
            if target not in revs or depth > len(revs):
                raise HubError(500, None, "revision %r: bad target %r in %s"
                               % (name, target, SETTINGS_NAME))
            return self._build(target, depth + 1)
        default_title = DEFAULT_TITLE if name == "main" else "Update %s" % name
        title = spec.get("title", self.settings.get("title", default_title))
        date = spec.get("date", self.settings.get("date", DEFAULT_DATE))
        content = self._content_dir(name, spec.get("dir", "."))
        return self.hub.snapshots.get(self, name, content, title, date)

    def _content_dir(self, name, rel):
        path = os.path.realpath(os.path.join(self.folder, rel))
        if not _inside(path, os.path.realpath(self.folder)) or not os.path.isdir(path):
            raise HubError(500, None, "revision %r: dir %r is not a folder inside the repo"
                           % (name, rel))
        return path

    def lfs_rules(self, content):
        patterns = list(self.settings.get("lfs", ()))
        patterns += gitattributes_lfs_patterns(os.path.join(content, ".gitattributes"))
        threshold = self.settings.get("lfs_threshold", self.hub.lfs_threshold)
        regexes = [git_glob(p) for p in patterns]
        return lambda path, size: size >= threshold or any(r.match(path) for r in regexes)


def _inside(path, top):
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


class SnapshotCache:
    """Snapshots keyed by (repo folder, revision), reused while the walk finds the same files."""

    RECHECK_S = 0.5     # a repo's files are walked again at most this often

    def __init__(self, hub):
        self.hub = hub
        self._lock = threading.Lock()
        self._cache = {}
        self._checked = {}  # key -> monotonic time of the last walk that confirmed the entry
        self._walk_locks = {}  # key -> lock held by the thread walking that repo

    def forget(self):
        """Walk every repo again on its next request (POST /_mock/reset)."""
        with self._lock:
            self._cache.clear()
            self._checked.clear()

    def _walk(self, top):
        found = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, top).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            if not prefix:
                dirnames[:] = [d for d in dirnames if d not in HIDDEN_TOP]
                filenames = [f for f in filenames if f not in HIDDEN_TOP]
            for name in filenames:
                fs = os.path.join(dirpath, name)
                try:
                    st = os.stat(fs)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if os.path.islink(fs) and not _inside(os.path.realpath(fs), self.hub.real_root):
                    continue
                found.append((prefix + name, fs, st))
        found.sort(key=lambda item: item[0])
        return found

    def get(self, repo, name, content, title, date):
        key = (repo.folder, name)
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        # One thread walks a repo at a time; the others wait for it and use its result
        # (1,000 requests arriving together at a cold repo of 1,000 files used to walk and
        # hash it 1,000 times over, under the GIL).
        with self._lock:
            walk_lock = self._walk_locks.setdefault(key, threading.Lock())
        with walk_lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            with self._lock:
                hit = self._cache.get(key)
            return self._rebuild(repo, name, content, title, date, key, hit, time.monotonic())

    def _fresh(self, key):
        """The cached entry if a walk confirmed it less than RECHECK_S ago, else None."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - self._checked.get(key, 0.0) < self.RECHECK_S:
                return hit
        return None

    def _rebuild(self, repo, name, content, title, date, key, hit, now):
        files = self._walk(content)
        stamp = (title, date, json.dumps(repo.settings, sort_keys=True),
                 tuple((p, st.st_size, st.st_mtime_ns, st.st_ino) for p, _, st in files))
        if hit and hit[0] == stamp:
            with self._lock:
                self._checked[key] = now
            return hit[1]
        is_lfs = repo.lfs_rules(content)
        entries = {}
        for path, fs, st in files:
            if is_lfs(path, st.st_size):
                sha = self.hub.hashes.digest(fs, st, "sha256")
                pointer = lfs_pointer(sha, st.st_size)
                lfs = {"oid": sha, "size": st.st_size, "pointerSize": len(pointer)}
                entries[path] = FileEntry(path, fs, st.st_size, git_object_id("blob", pointer), lfs)
            else:
                oid = self.hub.hashes.digest(fs, st, "git")
                entries[path] = FileEntry(path, fs, st.st_size, oid, None)
        snap = Snapshot(name, entries, title, date)
        with self._lock:
            self._cache[key] = (stamp, snap)
            self._checked[key] = now
        return snap


def _check_settings(path, settings):
    if not isinstance(settings, dict):
        raise ValueError("not a JSON object")
    unknown = set(settings) - SETTINGS_KEYS
    if unknown:
        raise ValueError("unknown keys %s" % sorted(unknown))
    revs = settings.get("revisions", {})
    if not isinstance(revs, dict):
        raise ValueError("revisions must be an object")
    for name, spec in revs.items():
        if not isinstance(spec, dict) or set(spec) - REVISION_KEYS:
            raise ValueError("revision %r: expected an object with keys among %s"
                             % (name, sorted(REVISION_KEYS)))
    if not isinstance(settings.get("tokens", []), list) or \
            not isinstance(settings.get("lfs", []), list):
        raise ValueError("tokens and lfs must be lists of strings")


class Hub:
    """The served folder: finds repos, loads settings, owns the hash and snapshot caches."""

    def __init__(self, root, lfs_threshold, tokens):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.lfs_threshold = lfs_threshold
        self.tokens = frozenset(tokens)
        self.hashes = HashCache()
        self.snapshots = SnapshotCache(self)

    def _settings(self, folder):
        path = os.path.join(folder, SETTINGS_NAME)
        try:
            with open(path, encoding="utf-8") as f:
                settings = json.load(f)
            _check_settings(path, settings)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise HubError(500, None, "%s: %s" % (path, e))
        return settings

    def find(self, rtype, parts):
        """(repo, None) for an existing repo, (None, canonical id) when only the casing differs,
        (None, None) when there is no such repo. `parts` are the id's decoded segments."""
        if rtype not in REPO_TYPES or not 1 <= len(parts) <= 2 or \
                not all(SEGMENT_RE.match(p) and p not in (".", "..") for p in parts):
            return None, None
        folder = os.path.join(self.root, rtype, *parts)
        if self._is_repo(rtype, parts):
            return Repo(self, rtype, "/".join(parts), folder, self._settings(folder)), None
        canonical, here = [], os.path.join(self.root, rtype)
        for part in parts:
            try:
                names = [n for n in os.listdir(here) if n.lower() == part.lower()]
            except OSError:
                return None, None
            if len(names) != 1:
                return None, None
            canonical.append(names[0])
            here = os.path.join(here, names[0])
        return (None, "/".join(canonical)) if self._is_repo(rtype, canonical) else (None, None)

    def _is_repo(self, rtype, parts):
        """Whether ROOT/rtype/parts is a repo folder. A folder right below ROOT/rtype is a legacy
        one-segment repo when it holds files of its own, and otherwise an organisation whose
        sub-folders are its repos: an organisation is never a repo, nor a legacy repo's
        sub-folder one (either would serve other repos' files, gated and private included)."""
        folder = os.path.join(self.root, rtype, *parts)
        if not os.path.isdir(folder):
            return False
        legacy = _has_own_files(os.path.join(self.root, rtype, parts[0]))
        return legacy if len(parts) == 1 else not legacy


def _has_own_files(folder):
    """Whether `folder` holds a file (not only folders) at its top."""
    try:
        with os.scandir(folder) as it:
            return any(e.is_file() for e in it)
    except OSError:
        return False
