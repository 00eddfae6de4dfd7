#!/usr/bin/env python3
"""Tests of hf-mock-hub: each starts from a server on ephemeral loopback ports over a temporary
root written here, and checks what the Hub client and its tests rely on: headers and hashes,
redirects, access rules, errors, the API, ranges, control endpoints, faults and robustness.
Standard library only."""

import hashlib
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "hf-mock-hub")
LFS_THRESHOLD = 4096
GLOBAL_TOKEN = "hf_global_1"


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def lfs_pointer(data):
    return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
        sha256(data).encode(), len(data))


rng = random.Random(1234)
PLAIN = {
    "config.json": b'{"model_type": "test"}\n',
    "sub/dir/notes.txt": b"hello\n",
    "big.bin": rng.randbytes(300000),                        # LFS by size
    "weights.gguf": b"GGUF" + bytes(60),                      # LFS by .gitattributes
    "model.safetensors": b"\x08" + bytes(15),                 # LFS by the settings' "lfs" list
    ".gitattributes": b"*.gguf filter=lfs diff=lfs merge=lfs -text\n",
}
PLAIN_LFS = ("big.bin", "weights.gguf", "model.safetensors")
V1_CONFIG = b'{"version": 1}\n'
FAULTY = {"blob.bin": rng.randbytes(200000), "small.txt": rng.randbytes(100000)}
MANY = {"d%d/file%03d.txt" % (i % 3, i): b"file %d\n" % i for i in range(120)}
SECRET = b"top secret, outside the root"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else json.dumps(data).encode())


def make_root(top):
    """The served root (top/root) and, beside it, a file that must never be served."""
    root = os.path.join(top, "root")
    write(os.path.join(top, "secret.txt"), SECRET)
    plain = os.path.join(root, "models/org/plain")
    for name, data in PLAIN.items():
        write(os.path.join(plain, name), data)
    write(os.path.join(plain, ".mockhub/v1/config.json"), V1_CONFIG)
    write(os.path.join(plain, ".mockhub.json"), {
        "lfs": ["*.safetensors"],
        "revisions": {"v1.0": {"dir": ".mockhub/v1", "type": "tag"},
                      "refs/pr/1": {},
                      "stable": {"target": "v1.0"}}})
    os.symlink(os.path.join(top, "secret.txt"), os.path.join(plain, "escape.txt"))
    write(os.path.join(root, "models/org/private/config.json"), b"{}")
    write(os.path.join(root, "models/org/private/.mockhub.json"),
          {"private": True, "tokens": ["hf_private_1"]})
    write(os.path.join(root, "models/org/gated/config.json"), b"{}")
    write(os.path.join(root, "models/org/gated/model.bin"), bytes(5000))
    write(os.path.join(root, "models/org/gated/.mockhub.json"),
          {"gated": "manual", "tokens": ["hf_gated_1"]})
    write(os.path.join(root, "models/Old/old-name/.mockhub.json"), {"renamed_to": "org/plain"})
    for name, data in MANY.items():
        write(os.path.join(root, "models/org/many", name), data)
    for name, data in FAULTY.items():
        write(os.path.join(root, "models/org/faulty", name), data)
    write(os.path.join(root, "models/org/faulty/.mockhub.json"),
          {"lfs": ["*.bin"], "lfs_threshold": 1 << 20})
    write(os.path.join(root, "datasets/org/data/data.csv"), b"a,b\n1,2\n")
    write(os.path.join(root, "models/gpt2/config.json"), b'{"n_layer": 12}')
    write(os.path.join(root, "models/gpt2/sub/config.json"), b"{}")
    write(os.path.join(root, "models/org/mutable/a.txt"), b"a\n")
    return root


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def request(method, url, headers=None, body=None, timeout=30, context=None):
    """One request on a fresh connection; no redirect is followed. https:// URLs are checked
    against `context` (an ssl.SSLContext)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body,
                     headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read())
    finally:
        conn.close()


def raw_exchange(url, data, timeout=10):
    """Send raw bytes, return everything the server sends back until it closes."""
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


class MockHub:
    """A running hf-mock-hub process."""

    def __init__(self, root, *options):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, SCRIPT, "--root", root, "--port", "0", "--cdn-port", "0",
             "--lfs-threshold", str(LFS_THRESHOLD), "--page-size", "50",
             "--token", GLOBAL_TOKEN] + list(options),
            stdout=subprocess.PIPE, stderr=self.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode() if ready else ""
        m = re.fullmatch(r"listening (https?://127\.0\.0\.1:\d+) (https?://[a-z0-9.]+:\d+)\n",
                         line)
        if not m:
            self.proc.kill()
            raise RuntimeError("no listening line: %r; stderr: %s" % (line, self.errors()))
        self.hub, self.cdn = m.group(1), m.group(2)

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close(self):
        self.stderr.close()

    def stop(self):
        """SIGTERM; returns (exit status, what stdout printed after the first line)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        rest = self.proc.stdout.read()
        self.proc.stdout.close()
        return rc, rest


class MockHubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = make_root(cls.tmp.name)
        cls.mock = MockHub(cls.root)
        cls.hub, cls.cdn = cls.mock.hub, cls.mock.cdn

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.mock.stop()
        errors = cls.mock.errors()
        cls.mock.close()
        cls.tmp.cleanup()
        if rc != 0 or "Traceback" in errors:
            raise AssertionError("mock hub exit %d, stderr:\n%s" % (rc, errors))

    def setUp(self):
        self.assertEqual(self.post_json("/_mock/reset", {}).status, 200)

    # -- helpers -------------------------------------------------------------------------------

    def head(self, path, **headers):
        return request("HEAD", self.hub + path, headers)

    def get(self, path, **headers):
        return request("GET", self.hub + path, headers)

    def post_json(self, path, obj):
        return request("POST", self.hub + path, {"Content-Type": "application/json"},
                       json.dumps(obj).encode())

    def fault(self, **spec):
        r = self.post_json("/_mock/faults", spec)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["faults"][0]

    def stats(self):
        return self.get("/_mock/stats").json()

    def commit(self, repo="org/plain", rev="main"):
        return self.get("/api/models/%s/revision/%s" % (repo, rev)).json()["sha"]

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.headers.get("X-Error-Code"), code)
        self.assertTrue(r.headers.get("X-Error-Message"))
        if r.body:
            self.assertEqual(r.json()["error"], r.headers["X-Error-Message"])

    def follow_lfs(self, path, **headers):
        r = self.head(path, **headers)
        self.assertEqual(r.status, 302, r.body)
        return r

    # -- resolve: regular files ----------------------------------------------------------------

    def test_head_on_a_regular_file_gives_git_sha1_etag_commit_and_size(self):
        data = PLAIN["config.json"]
        r = self.head("/org/plain/resolve/main/config.json", **{"Accept-Encoding": "identity"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["ETag"], '"%s"' % git_sha1(data))
        self.assertRegex(r.headers["X-Repo-Commit"], r"^[0-9a-f]{40}$")
        self.assertEqual(r.headers["Content-Length"], str(len(data)))
        self.assertEqual(r.headers["Accept-Ranges"], "bytes")
        self.assertIsNone(r.headers.get("X-Linked-Etag"))
        self.assertEqual(r.body, b"")

    def test_get_on_a_regular_file_serves_it_whole_or_by_range(self):
        data = PLAIN["sub/dir/notes.txt"]
        path = "/org/plain/resolve/main/sub/dir/notes.txt"
        r = self.get(path)
        self.assertEqual((r.status, r.body), (200, data))
        self.assertEqual(r.headers["ETag"], '"%s"' % git_sha1(data))
        probe = self.get(path, Range="bytes=0-0")
        self.assertEqual((probe.status, probe.body), (206, data[:1]))
        self.assertEqual(probe.headers["Content-Range"], "bytes 0-0/%d" % len(data))
        self.assertEqual(probe.headers["X-Repo-Commit"], r.headers["X-Repo-Commit"])
        self.assertEqual(self.get(path, Range="bytes=2-").body, data[2:])
        self.assertEqual(self.get(path, Range="bytes=-3").body, data[-3:])
        self.assertEqual(self.get(path, Range="bytes=1-100").headers["Content-Range"],
                         "bytes 1-%d/%d" % (len(data) - 1, len(data)))
        bad = self.get(path, Range="bytes=100-")
        self.assertEqual(bad.status, 416)
        self.assertEqual(bad.headers["Content-Range"], "bytes */%d" % len(data))
        self.assertEqual(self.get(path, Range="lines=1-2").status, 200)
        self.assertEqual(self.get(path, **{"If-None-Match": r.headers["ETag"]}).status, 304)

    # -- resolve: LFS files and the CDN --------------------------------------------------------

    def test_lfs_file_answers_302_to_the_cdn_with_linked_etag_size_and_commit(self):
        data = PLAIN["big.bin"]
        for method in ("HEAD", "GET"):
            r = request(method, self.hub + "/org/plain/resolve/main/big.bin")
            self.assertEqual(r.status, 302)
            self.assertEqual(r.headers["X-Linked-Etag"], '"%s"' % sha256(data))
            self.assertEqual(r.headers["X-Linked-Size"], str(len(data)))
            self.assertRegex(r.headers["X-Repo-Commit"], r"^[0-9a-f]{40}$")
            self.assertIsNone(r.headers.get("ETag"))
            self.assertNotEqual(r.headers["Content-Length"], str(len(data)))
            loc = urllib.parse.urlsplit(r.headers["Location"])
            self.assertEqual("%s://%s" % (loc.scheme, loc.netloc), self.cdn)
            self.assertIn("Signature=", loc.query)
        got = request("GET", r.headers["Location"])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.headers["ETag"], '"%s"' % sha256(data))
        self.assertEqual(got.headers["Accept-Ranges"], "bytes")
        self.assertEqual(got.body, data)

    def test_range_probe_on_an_lfs_file_redirects_and_the_cdn_answers_206(self):
        data = PLAIN["big.bin"]
        r = self.get("/org/plain/resolve/main/big.bin", Range="bytes=0-0")
        self.assertEqual(r.status, 302)
        cdn_url = r.headers["Location"]
        probe = request("GET", cdn_url, {"Range": "bytes=0-0"})
        self.assertEqual((probe.status, probe.body), (206, data[:1]))
        self.assertEqual(probe.headers["Content-Range"], "bytes 0-0/%d" % len(data))
        part = request("GET", cdn_url, {"Range": "bytes=1000-1999"})
        self.assertEqual((part.status, part.body), (206, data[1000:2000]))
        self.assertEqual(part.headers["Content-Range"], "bytes 1000-1999/%d" % len(data))
        self.assertEqual(request("GET", cdn_url, {"Range": "bytes=%d-" % len(data)}).status, 416)
        head = request("HEAD", cdn_url)
        self.assertEqual((head.status, head.headers["Content-Length"]), (200, str(len(data))))
        etag = head.headers["ETag"]
        self.assertEqual(request("GET", cdn_url, {"If-None-Match": etag}).status, 304)

    def test_gitattributes_and_settings_patterns_make_small_files_lfs(self):
        for name in ("weights.gguf", "model.safetensors"):
            r = self.head("/org/plain/resolve/main/" + name)
            self.assertEqual(r.status, 302, name)
            self.assertEqual(r.headers["X-Linked-Etag"], '"%s"' % sha256(PLAIN[name]))
            self.assertEqual(request("GET", r.headers["Location"]).body, PLAIN[name])
        self.assertEqual(self.head("/org/plain/resolve/main/.gitattributes").status, 200)

    def test_cdn_refuses_an_altered_or_missing_signature(self):
        loc = self.head("/org/plain/resolve/main/big.bin").headers["Location"]
        u = urllib.parse.urlsplit(loc)
        self.assertEqual(request("GET", loc.replace("Signature=", "Signature=0")).status, 403)
        self.assertEqual(request("GET", "%s%s" % (self.cdn, u.path)).status, 403)
        self.assertEqual(request("GET", self.cdn + "/repos/models/org/plain/nothing").status, 404)

    # -- repos: renamed, private, gated, missing ------------------------------------------------

    def test_renamed_or_miscased_repo_answers_a_relative_307(self):
        r = self.head("/Old/old-name/resolve/main/config.json")
        self.assertEqual(r.status, 307)
        self.assertEqual(r.headers["Location"], "/org/plain/resolve/main/config.json")
        self.assertIsNone(r.headers.get("X-Repo-Commit"))
        r = self.get("/api/models/Old/old-name/tree/main?recursive=true")
        self.assertEqual((r.status, r.headers["Location"]),
                         (307, "/api/models/org/plain/tree/main?recursive=true"))
        r = self.get("/ORG/Plain/resolve/refs%2Fpr%2F1/config.json")
        self.assertEqual((r.status, r.headers["Location"]),
                         (307, "/org/plain/resolve/refs%2Fpr%2F1/config.json"))

    def test_private_repo_answers_repo_not_found_without_a_valid_token(self):
        path = "/org/private/resolve/main/config.json"
        self.assert_error(self.head(path), 401, "RepoNotFound")
        self.assert_error(self.get(path, Authorization="Bearer hf_wrong"), 401, "RepoNotFound")
        self.assert_error(self.get("/api/models/org/private"), 401, "RepoNotFound")
        for token in ("hf_private_1", GLOBAL_TOKEN):
            self.assertEqual(self.get(path, Authorization="Bearer " + token).status, 200)
        info = self.get("/api/models/org/private", Authorization="Bearer hf_private_1").json()
        self.assertIs(info["private"], True)

    def test_gated_repo_needs_a_valid_token_for_file_content(self):
        path = "/org/gated/resolve/main/config.json"
        self.assert_error(self.head(path), 401, "GatedRepo")
        self.assert_error(self.get(path), 401, "GatedRepo")
        self.assert_error(self.head(path, Authorization="Bearer hf_wrong"), 403, "GatedRepo")
        self.assertEqual(self.head(path, Authorization="Bearer hf_gated_1").status, 200)
        self.assertEqual(self.head(path, Authorization="Bearer " + GLOBAL_TOKEN).status, 200)
        lfs = self.head("/org/gated/resolve/main/model.bin", Authorization="Bearer hf_gated_1")
        self.assertEqual(lfs.status, 302)
        self.assertEqual(request("GET", lfs.headers["Location"]).body, bytes(5000))
        info = self.get("/api/models/org/gated")
        self.assertEqual((info.status, info.json()["gated"]), (200, "manual"))

    def test_missing_repo_revision_and_entry_have_their_error_codes(self):
        self.assert_error(self.head("/org/nope/resolve/main/config.json"), 401, "RepoNotFound")
        self.assert_error(self.get("/org/nope/resolve/main/config.json"), 401, "RepoNotFound")
        self.assert_error(self.head("/org/plain/resolve/nope/config.json"), 404,
                          "RevisionNotFound")
        self.assert_error(self.head("/org/plain/resolve/%s/config.json" % ("0" * 40)), 404,
                          "RevisionNotFound")
        for path in ("nope.txt", "sub/dir", ".mockhub.json", ".mockhub/v1/config.json"):
            r = self.get("/org/plain/resolve/main/" + path)
            self.assert_error(r, 404, "EntryNotFound")
            self.assertEqual(r.headers["X-Repo-Commit"], self.commit())
        self.assert_error(self.get("/api/models/org/nope"), 401, "RepoNotFound")
        self.assert_error(self.get("/api/models/org/plain/revision/nope"), 404,
                          "RevisionNotFound")
        self.assert_error(self.get("/api/models/org/plain/tree/main/nope"), 404, "EntryNotFound")
        self.assertEqual(self.get("/nothing/here").status, 404)
        r = request("PUT", self.hub + "/org/plain/resolve/main/config.json", body=b"x")
        self.assertEqual(r.status, 405)

    # -- revisions and commits -----------------------------------------------------------------

    def test_branch_tag_pull_request_and_commit_revisions(self):
        main = self.head("/org/plain/resolve/main/config.json")
        tag = self.get("/org/plain/resolve/v1.0/config.json")
        self.assertEqual(tag.body, V1_CONFIG)
        self.assertNotEqual(tag.headers["X-Repo-Commit"], main.headers["X-Repo-Commit"])
        for rev in ("refs%2Fpr%2F1", "refs/pr/1"):
            pr = self.head("/org/plain/resolve/%s/config.json" % rev)
            self.assertEqual(pr.status, 200, rev)
            self.assertEqual(pr.headers["ETag"], main.headers["ETag"])
            self.assertNotEqual(pr.headers["X-Repo-Commit"], main.headers["X-Repo-Commit"])
        stable = self.head("/org/plain/resolve/stable/config.json")
        self.assertEqual(stable.headers["X-Repo-Commit"], tag.headers["X-Repo-Commit"])
        by_commit = self.get("/org/plain/resolve/%s/config.json" % tag.headers["X-Repo-Commit"])
        self.assertEqual(by_commit.body, V1_CONFIG)
        self.assertEqual(by_commit.headers["X-Repo-Commit"], tag.headers["X-Repo-Commit"])
        self.assertEqual(self.head("/org/plain/resolve/refs%2Ftags%2Fv1.0/config.json")
                         .headers["X-Repo-Commit"], tag.headers["X-Repo-Commit"])
        self.assertEqual(self.head("/org/plain/resolve/HEAD/config.json").headers["X-Repo-Commit"],
                         main.headers["X-Repo-Commit"])
        refs = self.get("/api/models/org/plain/refs?include_prs=1").json()
        self.assertEqual({b["name"] for b in refs["branches"]}, {"main", "stable"})
        self.assertEqual([(t["name"], t["targetCommit"]) for t in refs["tags"]],
                         [("v1.0", tag.headers["X-Repo-Commit"])])
        self.assertEqual([p["name"] for p in refs["pullRequests"]], ["refs/pr/1"])

    def test_commit_follows_the_content_and_only_the_content(self):
        path = os.path.join(self.root, "models/org/mutable/b.txt")
        before = self.commit("org/mutable")
        self.assertEqual(self.commit("org/mutable"), before)
        write(path, b"b\n")
        try:
            self.post_json("/_mock/reset", {})     # read the repo again now, not in 0.5 s
            changed = self.commit("org/mutable")
            self.assertNotEqual(changed, before)
            self.assertRegex(changed, r"^[0-9a-f]{40}$")
        finally:
            os.unlink(path)
        self.post_json("/_mock/reset", {})
        self.assertEqual(self.commit("org/mutable"), before)
        time.sleep(0.6)                             # and without a reset, after the re-read delay
        write(path, b"b\n")
        try:
            time.sleep(0.6)
            self.assertEqual(self.commit("org/mutable"), changed)
        finally:
            os.unlink(path)

    # -- API -----------------------------------------------------------------------------------

    def test_repo_info_gives_sha_and_siblings(self):
        info = self.get("/api/models/org/plain").json()
        self.assertEqual(info["id"], "org/plain")
        self.assertEqual(info["sha"], self.head("/org/plain/resolve/main/config.json")
                         .headers["X-Repo-Commit"])
        self.assertEqual(sorted(s["rfilename"] for s in info["siblings"]), sorted(PLAIN))
        blobs = self.get("/api/models/org/plain?blobs=true").json()["siblings"]
        for s in blobs:
            data = PLAIN[s["rfilename"]]
            self.assertEqual(s["size"], len(data))
            if s["rfilename"] in PLAIN_LFS:
                self.assertEqual(s["lfs"], {"sha256": sha256(data), "size": len(data),
                                            "pointerSize": len(lfs_pointer(data))})
                self.assertEqual(s["blobId"], git_sha1(lfs_pointer(data)))
            else:
                self.assertEqual(s["blobId"], git_sha1(data))
                self.assertNotIn("lfs", s)
        v1 = self.get("/api/models/org/plain/revision/v1.0").json()
        self.assertEqual([s["rfilename"] for s in v1["siblings"]], ["config.json"])
        pr = self.get("/api/models/org/plain/revision/refs%2Fpr%2F1").json()
        self.assertEqual(pr["sha"], self.head("/org/plain/resolve/refs%2Fpr%2F1/config.json")
                         .headers["X-Repo-Commit"])
        self.assertEqual(set(self.get("/api/models/org/plain?expand=sha").json()),
                         {"_id", "id", "sha"})

    def collect_tree(self, url):
        pages, entries = 0, []
        while url:
            r = request("GET", url)
            self.assertEqual(r.status, 200, r.body)
            pages += 1
            entries += r.json()
            link = r.headers.get("Link")
            url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
            if url:
                self.assertTrue(url.startswith(self.hub + "/api/models/"), url)
        return pages, entries

    def test_tree_listing_paginates_through_link_headers(self):
        pages, entries = self.collect_tree(self.hub + "/api/models/org/many/tree/main"
                                           "?recursive=true&expand=false")
        self.assertEqual(pages, 3)
        self.assertEqual(len(entries), 123)
        files = {e["path"]: e for e in entries if e["type"] == "file"}
        self.assertEqual(set(files), set(MANY))
        for path, e in files.items():
            self.assertEqual((e["oid"], e["size"]), (git_sha1(MANY[path]), len(MANY[path])))
        dirs = [e for e in entries if e["type"] == "directory"]
        self.assertEqual(sorted(e["path"] for e in dirs), ["d0", "d1", "d2"])
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{40}", e["oid"]) for e in dirs))
        top = self.get("/api/models/org/many/tree/main").json()
        self.assertEqual([e["path"] for e in top], ["d0", "d1", "d2"])
        sub = self.get("/api/models/org/many/tree/main/d1?limit=1000").json()
        self.assertEqual(len(sub), 40)
        pages, _ = self.collect_tree(self.hub + "/api/models/org/many/tree/main/d1?limit=15")
        self.assertEqual(pages, 3)

    def test_tree_entries_carry_lfs_and_last_commit(self):
        commit = self.commit()
        entries = self.get("/api/models/org/plain/tree/main?recursive=1&expand=true").json()
        by_path = {e["path"]: e for e in entries}
        self.assertEqual(set(by_path), set(PLAIN) | {"sub", "sub/dir"})
        for name in PLAIN_LFS:
            data = PLAIN[name]
            self.assertEqual(by_path[name]["lfs"], {"oid": sha256(data), "size": len(data),
                                                    "pointerSize": len(lfs_pointer(data))})
            self.assertEqual(by_path[name]["oid"], git_sha1(lfs_pointer(data)))
            self.assertEqual(by_path[name]["size"], len(data))
        self.assertEqual(by_path["config.json"]["oid"], git_sha1(PLAIN["config.json"]))
        self.assertEqual(by_path["config.json"]["lastCommit"],
                         {"id": commit, "title": "Upload folder using huggingface_hub",
                          "date": "2024-01-01T00:00:00.000Z"})
        nested = self.get("/api/models/org/plain/tree/main/sub%2Fdir").json()
        self.assertEqual([e["path"] for e in nested], ["sub/dir/notes.txt"])

    def test_paths_info_takes_json_or_a_form(self):
        url = "/api/models/org/plain/paths-info/main"
        r = self.post_json(url, {"paths": ["config.json", "big.bin", "sub", "missing"],
                                 "expand": True})
        self.assertEqual(r.status, 200, r.body)
        got = {e["path"]: e for e in r.json()}
        self.assertEqual(set(got), {"config.json", "big.bin", "sub"})
        self.assertEqual(got["config.json"]["oid"], git_sha1(PLAIN["config.json"]))
        self.assertEqual(got["big.bin"]["lfs"]["oid"], sha256(PLAIN["big.bin"]))
        self.assertEqual(got["sub"]["type"], "directory")
        self.assertEqual(got["config.json"]["lastCommit"]["id"], self.commit())
        form = request("POST", self.hub + "/api/models/org/plain/paths-info/refs%2Fpr%2F1",
                       {"Content-Type": "application/x-www-form-urlencoded"},
                       b"paths=config.json&paths=weights.gguf&expand=True")
        self.assertEqual(form.status, 200, form.body)
        entries = form.json()
        self.assertEqual([e["path"] for e in entries], ["config.json", "weights.gguf"])
        self.assertEqual(entries[0]["lastCommit"]["id"], self.commit(rev="refs%2Fpr%2F1"))
        plain = request("POST", self.hub + url, {"Content-Type": "application/x-www-form-urlencoded"},
                        b"paths=config.json")
        self.assertNotIn("lastCommit", plain.json()[0])
        self.assertEqual(self.post_json(url, {"paths": 3}).status, 400)
        bad = request("POST", self.hub + url, {"Content-Type": "application/json"}, b"{nope")
        self.assertEqual(bad.status, 400)
        self.assertEqual(self.get(url).status, 405)

    def test_datasets_and_legacy_one_segment_ids(self):
        r = self.get("/datasets/org/data/resolve/main/data.csv")
        self.assertEqual((r.status, r.body), (200, b"a,b\n1,2\n"))
        info = self.get("/api/datasets/org/data").json()
        self.assertEqual((info["id"], info["siblings"]), ("org/data", [{"rfilename": "data.csv"}]))
        self.assertNotIn("modelId", info)
        self.assert_error(self.get("/org/data/resolve/main/data.csv"), 401, "RepoNotFound")
        self.assertEqual(self.get("/gpt2/resolve/main/config.json").body, b'{"n_layer": 12}')
        self.assertEqual(self.get("/api/models/gpt2").json()["id"], "gpt2")

    def test_an_organisation_is_no_repo_and_a_legacy_repo_has_no_sub_repos(self):
        # models/org holds org/plain, org/gated, org/private...: served as the legacy id "org"
        # it gave their files away, gated and private ones and the settings' tokens included
        for path in ("/api/models/org", "/org/resolve/main/gated/config.json",
                     "/org/resolve/main/private/.mockhub.json",
                     "/ORG/resolve/main/plain/config.json", "/api/models/org/tree/main"):
            self.assert_error(self.get(path), 401, "RepoNotFound")
        # and a legacy repo's folder is not a repo ORG/NAME of its own
        self.assert_error(self.get("/gpt2/sub/resolve/main/config.json"), 401, "RepoNotFound")
        self.assert_error(self.get("/api/models/gpt2/sub"), 401, "RepoNotFound")
        self.assertEqual(self.get("/gpt2/resolve/main/sub/config.json").body, b"{}")

    def test_a_port_out_of_range_is_a_usage_error(self):
        for opt in ("--port", "--cdn-port"):
            p = subprocess.run([sys.executable, SCRIPT, "--root", self.root, opt, "70000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(b"65535", p.stderr)
            self.assertNotIn(b"Traceback", p.stderr)

    # -- control: stats and request log -------------------------------------------------------

    def test_stats_count_requests_per_port_method_and_path(self):
        path = "/org/plain/resolve/main/config.json"
        self.head(path)
        self.get(path)
        self.get(path)
        loc = self.head("/org/plain/resolve/main/weights.gguf").headers["Location"]
        request("GET", loc)
        s = self.stats()
        self.assertEqual(s["hub"]["paths"][path], {"HEAD": 1, "GET": 2})
        self.assertEqual(s["hub"]["methods"], {"HEAD": 2, "GET": 2})
        self.assertEqual(s["hub"]["statuses"], {"200": 3, "302": 1})
        self.assertEqual((s["cdn"]["total"], s["total"]), (1, 5))
        self.assertEqual(s["cdn"]["paths"][urllib.parse.urlsplit(loc).path], {"GET": 1})
        # the server adds a body's bytes once it has written them, which may be just after
        # the client has read them: wait for the count instead of racing it
        deadline = time.monotonic() + 30
        while s["cdn"]["bytes"] != len(PLAIN["weights.gguf"]) and time.monotonic() < deadline:
            time.sleep(0.01)
            s = self.stats()
        self.assertEqual(s["cdn"]["bytes"], len(PLAIN["weights.gguf"]))
        self.post_json("/_mock/reset", {})
        self.assertEqual(self.stats()["total"], 0)

    def test_request_log_records_headers_and_shows_no_authorization_reached_the_cdn(self):
        token = "hf_secret_token_value"
        r = self.head("/org/plain/resolve/main/big.bin", Authorization="Bearer " + token,
                      **{"User-Agent": "hfasync/0.1", "Accept-Encoding": "identity"})
        request("GET", r.headers["Location"], {"Range": "bytes=0-9"})
        log = self.get("/_mock/requests")
        self.assertNotIn(token.encode(), log.body)
        hub, cdn = log.json()["requests"]
        self.assertEqual((hub["port"], hub["method"], hub["status"]), ("hub", "HEAD", 302))
        self.assertIs(hub["authorization"], True)
        self.assertEqual(hub["headers"]["authorization"], "<redacted>")
        self.assertEqual((hub["user_agent"], hub["accept_encoding"]), ("hfasync/0.1", "identity"))
        self.assertEqual((cdn["port"], cdn["range"], cdn["status"]), ("cdn", "bytes=0-9", 206))
        self.assertIs(cdn["authorization"], False)
        only_cdn = self.get("/_mock/requests?port=cdn&since=%d" % hub["seq"]).json()["requests"]
        self.assertEqual([e["seq"] for e in only_cdn], [cdn["seq"]])

    # -- faults --------------------------------------------------------------------------------

    def test_status_fault_with_retry_after_applies_to_count_requests(self):
        path = "/org/plain/resolve/main/config.json"
        self.fault(path=path, status=503, retry_after=2, count=2)
        for _ in range(2):
            r = self.head(path)
            self.assertEqual((r.status, r.headers["Retry-After"]), (503, "2"))
        r = self.get(path)
        self.assertEqual((r.status, r.body), (200, PLAIN["config.json"]))
        self.assertEqual(self.get("/_mock/faults").json()["faults"], [])
        self.assertEqual(self.stats()["hub"]["statuses"], {"503": 2, "200": 1})

    def test_429_fault_carries_ratelimit_headers_and_matches_by_glob_and_method(self):
        self.fault(path="*/config.json", method="HEAD", status=429, retry_after=1,
                   ratelimit='"resolvers";r=0;t=1',
                   ratelimit_policy='"fixed window";"resolvers";q=3000;w=300')
        r = self.head("/org/plain/resolve/main/config.json")
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["RateLimit"], '"resolvers";r=0;t=1')
        self.assertEqual(r.headers["RateLimit-Policy"], '"fixed window";"resolvers";q=3000;w=300')
        self.assertEqual(r.headers["Retry-After"], "1")
        self.assertEqual(self.head("/gpt2/resolve/main/config.json").status, 429)
        self.assertEqual(self.get("/org/plain/resolve/main/config.json").status, 200)
        self.assertEqual(self.head("/org/plain/resolve/main/big.bin").status, 302)

    def test_skip_lets_the_first_matching_requests_through(self):
        path = "/org/plain/resolve/main/config.json"
        self.fault(path=path, skip=1, count=1, status=500, error_code="Boom", message="boom")
        self.assertEqual(self.get(path).status, 200)
        self.assert_error(self.get(path), 500, "Boom")
        self.assertEqual(self.get(path).status, 200)

    def cdn_url(self, name="blob.bin"):
        return self.head("/org/faulty/resolve/main/" + name).headers["Location"]

    def test_reset_after_n_bytes_cuts_the_body_and_resets_the_connection(self):
        data = FAULTY["blob.bin"]
        url = self.cdn_url()
        self.fault(path="/repos/models/org/faulty/*", port="cdn", reset_after=1000, count=1)
        u = urllib.parse.urlsplit(url)
        reply = raw_exchange(url, b"GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n"
                             % (u.path.encode(), u.query.encode()))
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: %d" % len(data), head)
        self.assertEqual(body, data[:1000])
        with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
            self.fault(path=u.path, reset_after=5000, count=1)
            request("GET", url)
        self.assertEqual(request("GET", url).body, data)
        self.assertEqual(self.get("/_mock/requests?port=cdn").json()["requests"][0]["bytes"], 1000)

    def test_close_fault_drops_the_connection_without_an_answer(self):
        self.fault(path="/org/plain/resolve/main/config.json", close=True, count=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.head("/org/plain/resolve/main/config.json")
        self.assertEqual(self.head("/org/plain/resolve/main/config.json").status, 200)

    def test_stall_delays_the_answer_or_the_body(self):
        path = "/org/faulty/resolve/main/small.txt"
        self.fault(path=path, stall_ms=300, count=1)
        began = time.monotonic()
        self.assertEqual(self.head(path).status, 200)
        self.assertGreaterEqual(time.monotonic() - began, 0.3)
        self.fault(path=path, stall_ms=300, stall_after=50000, count=1)
        began = time.monotonic()
        self.assertEqual(self.get(path).body, FAULTY["small.txt"])
        self.assertGreaterEqual(time.monotonic() - began, 0.3)

    def test_throttle_limits_bytes_per_second(self):
        path = "/org/faulty/resolve/main/small.txt"
        self.fault(path=path, throttle_bps=200000, count=1)
        began = time.monotonic()
        self.assertEqual(self.get(path).body, FAULTY["small.txt"])
        self.assertGreaterEqual(time.monotonic() - began, 0.45)

    def test_flip_offset_inverts_one_byte_of_the_file(self):
        data = FAULTY["blob.bin"]
        url = self.cdn_url()
        path = urllib.parse.urlsplit(url).path
        self.fault(path=path, flip_offset=12345, count=2)
        body = request("GET", url).body
        self.assertEqual(len(body), len(data))
        diff = [i for i in range(len(data)) if body[i] != data[i]]
        self.assertEqual(diff, [12345])
        self.assertEqual(body[12345], data[12345] ^ 0xFF)
        part = request("GET", url, {"Range": "bytes=12000-12999"}).body
        self.assertEqual(part[345], data[12345] ^ 0xFF)
        self.assertEqual(part[:345] + part[346:], data[12000:12345] + data[12346:13000])
        self.assertEqual(request("GET", url).body, data)

    def test_ignore_range_answers_200_with_the_whole_body(self):
        path = "/org/faulty/resolve/main/small.txt"
        self.fault(path=path, ignore_range=True, count=1)
        r = self.get(path, Range="bytes=10-19")
        self.assertEqual((r.status, r.body), (200, FAULTY["small.txt"]))
        self.assertEqual(self.get(path, Range="bytes=10-19").status, 206)

    def test_short_body_ends_early_with_a_matching_content_length(self):
        path = "/org/faulty/resolve/main/small.txt"
        self.fault(path=path, short_body=5, count=1)
        r = self.get(path)
        self.assertEqual((r.status, r.body), (200, FAULTY["small.txt"][:5]))
        self.assertEqual(self.get(path).body, FAULTY["small.txt"])

    def test_content_range_replaces_the_header_of_a_206(self):
        path = "/org/faulty/resolve/main/small.txt"
        self.fault(path=path, content_range="bytes 0-0/1", count=1)
        r = self.get(path, Range="bytes=10-19")
        self.assertEqual((r.status, r.headers["Content-Range"]), (206, "bytes 0-0/1"))
        self.assertEqual(r.body, FAULTY["small.txt"][10:20])

    def test_body_replaces_the_answer_body_and_its_content_length(self):
        path = "/api/models/org/faulty"
        self.fault(path=path, body='{"sha": "x"}', headers={"X-Extra": "1"}, count=1)
        r = self.get(path)
        self.assertEqual((r.status, r.body), (200, b'{"sha": "x"}'))
        self.assertEqual((r.headers["Content-Length"], r.headers["X-Extra"]), ("12", "1"))
        self.fault(path=path, status=404, body="", count=1)
        r = self.get(path)
        self.assertEqual((r.status, r.body), (404, b""))
        self.assertNotEqual(self.get(path).body, b'{"sha": "x"}')     # count used up

    def test_location_fault_answers_a_redirect_with_placeholders_replaced(self):
        url = self.cdn_url()
        u = urllib.parse.urlsplit(url)
        self.fault(path=u.path, port="cdn", status=307, location="{cdn}/moved{path}?{query}",
                   count=1)
        r = request("GET", url)
        self.assertEqual(r.status, 307)
        self.assertEqual(r.headers["Location"], "%s/moved%s?%s" % (self.cdn, u.path, u.query))
        self.assertNotIn("X-Error-Code", r.headers)
        self.assertEqual(request("GET", url).body, FAULTY["blob.bin"])      # count used up
        path = "/org/plain/resolve/main/config.json"
        self.fault(path=path, location="../x?a=1", count=1)                 # 302 by default
        r = self.head(path)
        self.assertEqual((r.status, r.headers["Location"]), (302, "../x?a=1"))
        self.fault(path=path, status=301, location="{hub}/y", count=1)
        self.assertEqual(self.head(path).headers["Location"], self.hub + "/y")

    def test_headers_fault_adds_headers_to_whichever_answer_goes_out(self):
        path = "/org/plain/resolve/main/config.json"
        self.fault(path=path, location="file:///etc/passwd",
                   headers={"X-Linked-Size": "5", "X-Repo-Commit": "0" * 40}, count=1)
        r = self.head(path)
        self.assertEqual((r.status, r.headers["Location"]), (302, "file:///etc/passwd"))
        self.assertEqual((r.headers["X-Linked-Size"], r.headers["X-Repo-Commit"]), ("5", "0" * 40))
        self.fault(path=path, headers={"X-Extra": "yes"}, count=1)
        r = self.get(path)
        self.assertEqual((r.status, r.headers["X-Extra"], r.body), (200, "yes", PLAIN["config.json"]))
        self.assertNotIn("X-Extra", self.get(path).headers)

    def test_bad_faults_are_refused_and_faults_can_be_listed_and_cleared(self):
        for spec in ({"path": "/x", "reset_afterr": 1}, {"path": "/x"}, {"status": 500},
                     {"path": "/x", "status": "500"}, {"path": "/x", "location": ""},
                     {"path": "/x", "location": "/a\r\nX-Evil: 1"},
                     {"path": "/x", "headers": {"X-A": 1}}, {"path": "/x", "headers": ["a"]},
                     {"path": "/x", "headers": {"Bad Name": "v"}}, [1]):
            r = self.post_json("/_mock/faults", spec)
            self.assertEqual(r.status, 400, spec)
        self.assertIn("reset_afterr", self.post_json("/_mock/faults",
                                                     {"path": "/x", "reset_afterr": 1}).json()["error"])
        r = self.post_json("/_mock/faults", {"faults": [{"path": "/a", "status": 500},
                                                        {"path": "/b*", "stall_ms": 1}]})
        self.assertEqual([f["path"] for f in r.json()["faults"]], ["/a", "/b*"])
        self.assertEqual(len(self.get("/_mock/faults").json()["faults"]), 2)
        self.assertEqual(request("DELETE", self.hub + "/_mock/faults").json(), {"faults": []})

    # -- robustness ----------------------------------------------------------------------------

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        u = urllib.parse.urlsplit(self.hub)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            sock = None
            for method, path, body in (("HEAD", "/org/plain/resolve/main/config.json", None),
                                       ("GET", "/org/plain/resolve/main/config.json", None),
                                       ("GET", "/org/plain/resolve/main/nope", None),
                                       ("HEAD", "/org/plain/resolve/main/big.bin", None),
                                       ("POST", "/api/models/org/plain/paths-info/main",
                                        b'{"paths": ["config.json"]}'),
                                       ("GET", "/api/models/org/plain", None)):
                conn.request(method, path, body=body)
                r = conn.getresponse()
                r.read()
                self.assertLess(r.status, 500)
                sock = sock or conn.sock
                self.assertIs(conn.sock, sock, "the server closed a keep-alive connection")
        finally:
            conn.close()

    def test_many_concurrent_downloads_are_served_at_once(self):
        n = 1000
        try:
            import resource
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if soft != resource.RLIM_INFINITY and soft < n + 200:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
            n = min(n, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100)
        except (ImportError, ValueError, OSError):
            n = 200
        path = "/org/plain/resolve/main/sub/dir/notes.txt"
        self.fault(path=path, stall_ms=500)
        u = urllib.parse.urlsplit(self.hub)
        began = time.monotonic()
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection((u.hostname, u.port), timeout=30)
                socks.append(s)
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
            for s in socks:
                reply = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])
                self.assertTrue(reply.endswith(b"\r\n\r\n" + PLAIN["sub/dir/notes.txt"]))
        finally:
            for s in socks:
                s.close()
        self.assertLess(time.monotonic() - began, 30, "%d stalled downloads were not concurrent" % n)
        self.assertEqual(self.stats()["hub"]["paths"][path], {"GET": n})

    def test_path_traversal_is_refused(self):
        for path in ("/org/plain/resolve/main/../../../../secret.txt",
                     "/org/plain/resolve/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
                     "/org/plain/resolve/main/..%2F..%2F..%2F..%2Fsecret.txt",
                     "/org/plain/resolve/main/sub/./dir/notes.txt",
                     "/api/models/org/plain/tree/main/..%2F..%2F.."):
            r = self.get(path)
            self.assertEqual(r.status, 400, path)
        for path in ("/%2e%2e/%2e%2e/resolve/main/secret.txt", "/../root/resolve/main/x",
                     "/api/models/..%2F..%2F/tree/main", "/org/plain/resolve/main/escape.txt"):
            r = self.get(path)
            self.assertIn(r.status, (400, 401, 404), path)
            self.assertNotIn(SECRET, r.body)
        tree = self.get("/api/models/org/plain/tree/main?recursive=true").json()
        self.assertNotIn("escape.txt", [e["path"] for e in tree])
        r = request("GET", self.cdn + "/repos/../../secret.txt")
        self.assertEqual(r.status, 404)
        self.assertNotIn(SECRET, r.body)

    def test_bad_requests_do_not_stop_the_server(self):
        for data in (b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
                     b"GET\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                     b"POST /api/models/org/plain/paths-info/main HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: nope\r\n\r\n",
                     b"POST /api/models/org/plain/paths-info/main HTTP/1.1\r\nHost: x\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"):
            for base in (self.hub, self.cdn):
                reply = raw_exchange(base, data)          # HTTP/0.9 answers have no status line
                self.assertRegex(reply[:100], rb'^(HTTP/1\.1 4\d\d |\{"error":"4\d\d )', data[:40])
        for base in (self.hub, self.cdn):             # hang up in the middle of a request
            u = urllib.parse.urlsplit(base)
            with socket.create_connection((u.hostname, u.port)) as s:
                s.sendall(b"GET /org/plain/resolve/main/conf")
        chunked = raw_exchange(self.hub, b"POST /api/models/org/plain/paths-info/main HTTP/1.1\r\n"
                               b"Host: x\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                               b"f\r\n{\"paths\": [\"con\r\nb\r\nfig.json\"]}\r\n0\r\n\r\n")
        self.assertTrue(chunked.startswith(b"HTTP/1.1 200"), chunked[:200])
        self.assertIn(b'"path":"config.json"', chunked)
        self.assertEqual(self.get("/org/plain/resolve/main/config.json", Range="bytes=9-2").status,
                         200)                          # a range that makes no sense is ignored
        self.assertEqual(self.head("/org/plain/resolve/main/config.json").status, 200)
        self.assertEqual(self.get("/_mock/nope").status, 404)
        self.assertNotIn("Traceback", self.mock.errors())

    def test_a_client_leaving_mid_body_is_handled_quietly(self):
        url = self.cdn_url()
        self.fault(path=urllib.parse.urlsplit(url).path, throttle_bps=100000, count=1)
        u = urllib.parse.urlsplit(url)
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(b"GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n" % (u.path.encode(),
                                                                   u.query.encode()))
            self.assertTrue(s.recv(1000))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        time.sleep(0.3)
        self.assertEqual(request("GET", url).body, FAULTY["blob.bin"])
        self.assertNotIn("Traceback", self.mock.errors())

    # -- command line --------------------------------------------------------------------------

    def test_options_and_sigterm_on_a_second_server_over_the_same_root(self):
        other = MockHub(self.root, "--throttle-bps", "400000", "--resolve-cache",
                        "--cdn-host", "localhost")
        try:
            r = request("HEAD", other.hub + "/org/plain/resolve/main/config.json")
            self.assertEqual(r.status, 307)
            self.assertEqual(r.headers["X-Repo-Commit"], self.commit())   # stable across runs
            loc = r.headers["Location"]
            self.assertTrue(loc.startswith("/api/resolve-cache/models/org/plain/%s/config.json?"
                                           % self.commit()), loc)
            final = request("GET", other.hub + loc)
            self.assertEqual((final.status, final.body), (200, PLAIN["config.json"]))
            self.assertEqual(final.headers["ETag"], '"%s"' % git_sha1(PLAIN["config.json"]))
            self.assertEqual(final.headers["X-Repo-Commit"], self.commit())
            cdn = request("HEAD", other.hub + "/org/faulty/resolve/main/blob.bin")
            self.assertTrue(cdn.headers["Location"].startswith("http://localhost:"))
            began = time.monotonic()
            body = request("GET", cdn.headers["Location"].replace("localhost", "127.0.0.1")).body
            self.assertEqual(body, FAULTY["blob.bin"])
            self.assertGreaterEqual(time.monotonic() - began, 0.45)   # 200000 B at 400000 B/s
        finally:
            began = time.monotonic()
            rc, rest = other.stop()
        self.assertEqual((rc, rest), (0, b""))
        self.assertLess(time.monotonic() - began, 5)
        self.assertNotIn("Traceback", other.errors())
        other.close()

    def test_strict_tokens_refuse_an_unknown_token_even_for_a_public_repo(self):
        # huggingface.co answers a token it does not know (a stale HF_TOKEN) with 401 and
        # "Invalid credentials in Authorization header", no X-Error-Code, public repos
        # included (huggingface_hub utils/_http.py hf_raise_for_status keeps that message
        # apart from RepoNotFound)
        other = MockHub(self.root, "--strict-tokens")
        try:
            for path in ("/org/plain/resolve/main/config.json", "/api/models/org/plain",
                         "/api/models/org/plain/tree/main", "/org/nope/resolve/main/x",
                         "/org/private/resolve/main/config.json"):
                r = request("GET", other.hub + path, {"Authorization": "Bearer hf_wrong"})
                self.assertEqual(r.status, 401, path)
                self.assertIsNone(r.headers.get("X-Error-Code"), path)
                self.assertEqual(r.headers.get("X-Error-Message"),
                                 "Invalid credentials in Authorization header")
                self.assertEqual(r.json()["error"], r.headers["X-Error-Message"])
            plain = "/org/plain/resolve/main/config.json"
            self.assertEqual(request("HEAD", other.hub + plain).status, 200)
            self.assertEqual(request("HEAD", other.hub + plain,
                                     {"Authorization": "Bearer " + GLOBAL_TOKEN}).status, 200)
            private = "/org/private/resolve/main/config.json"
            self.assertEqual(request("HEAD", other.hub + private,
                                     {"Authorization": "Bearer hf_private_1"}).status, 200)
            r = request("HEAD", other.hub + "/org/nope/resolve/main/x",
                        {"Authorization": "Bearer " + GLOBAL_TOKEN})
            self.assertEqual((r.status, r.headers.get("X-Error-Code")), (401, "RepoNotFound"))
        finally:
            rc, rest = other.stop()
        self.assertEqual((rc, rest), (0, b""))
        self.assertNotIn("Traceback", other.errors())
        other.close()

    def test_cdn_url_points_lfs_redirects_at_another_server_with_the_same_layout(self):
        other = MockHub(self.root, "--cdn-url", "http://127.0.0.1:9/base/")
        try:
            r = request("HEAD", other.hub + "/org/faulty/resolve/main/blob.bin")
            self.assertEqual(r.status, 302)
            loc = r.headers["Location"]
            prefix = "http://127.0.0.1:9/base/repos/models/org/faulty/%s/blob.bin?" % (
                sha256(FAULTY["blob.bin"]))
            self.assertTrue(loc.startswith(prefix), loc)
            # the mock's own CDN port still serves the same path and query
            own = request("GET", other.cdn + loc[len("http://127.0.0.1:9/base"):])
            self.assertEqual((own.status, own.body), (200, FAULTY["blob.bin"]))
        finally:
            rc, rest = other.stop()
        self.assertEqual((rc, rest), (0, b""))
        self.assertNotIn("Traceback", other.errors())
        other.close()

    def test_siblings_cap_cuts_or_drops_the_siblings_of_repo_info_only(self):
        # huggingface.co cuts `siblings` short for very large repos; huggingface_hub's
        # snapshot_download then lists the tree. --siblings-cap plays that Hub.
        full = self.get("/api/models/org/many?blobs=true").json()
        self.assertEqual(len(full["siblings"]), len(MANY))
        for cap, want in (("2", 2), ("0", 0), ("none", None)):
            other = MockHub(self.root, "--siblings-cap", cap)
            try:
                info = request("GET", other.hub + "/api/models/org/many?blobs=true").json()
                self.assertEqual(info["sha"], full["sha"])
                if want is None:
                    self.assertNotIn("siblings", info)
                else:
                    self.assertEqual(info["siblings"], full["siblings"][:want])
                # the tree still lists every file
                entries = request("GET", other.hub + "/api/models/org/many/tree/%s"
                                  "?recursive=true&limit=1000" % full["sha"]).json()
                self.assertEqual({e["path"] for e in entries if e["type"] == "file"}, set(MANY))
            finally:
                rc, rest = other.stop()
            self.assertEqual((rc, rest), (0, b""))
            self.assertNotIn("Traceback", other.errors())
            other.close()
        for bad in ("-1", "x"):
            out = subprocess.run([sys.executable, SCRIPT, "--root", self.root, "--siblings-cap",
                                  bad], capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 2)
            self.assertIn(b"--siblings-cap", out.stderr)

    def test_cursor_bytes_lengthens_the_next_page_links(self):
        short_pages, short = self.collect_tree(self.hub + "/api/models/org/many/tree/main"
                                               "?recursive=true")
        other = MockHub(self.root, "--cursor-bytes", "3000")
        try:
            url, pages, entries = other.hub + "/api/models/org/many/tree/main?recursive=true", 0, []
            while url:
                r = request("GET", url)
                self.assertEqual(r.status, 200, r.body)
                pages, entries = pages + 1, entries + r.json()
                link = r.headers.get("Link")
                url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
                if url:
                    self.assertGreaterEqual(len(re.search(r"cursor=([^&]*)", url).group(1)), 3000)
            self.assertEqual((pages, entries), (short_pages, short))
        finally:
            rc, rest = other.stop()
        self.assertEqual((rc, rest), (0, b""))
        self.assertNotIn("Traceback", other.errors())
        other.close()

    def test_help_documents_layout_settings_faults_and_stats(self):
        out = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0)
        text = out.stdout.decode()
        for word in ("ROOT/models/ORG/NAME", "ROOT/datasets", ".mockhub.json", "renamed_to",
                     "gated", "tokens", "filter=lfs", "--lfs-threshold", "--page-size",
                     "--throttle-bps", "--cdn-url", "/_mock/stats", "/_mock/requests", "/_mock/faults",
                     "/_mock/reset", "reset_after", "stall_ms", "throttle_bps", "flip_offset",
                     "retry_after", "ratelimit", "count", "listening <hub-url> <cdn-url>",
                     "--tls-cert", "--tls-key", "HTTPS", "--siblings-cap",
                     "--cursor-bytes"):
            self.assertIn(word, text)
        bad = subprocess.run([sys.executable, SCRIPT, "--root", "/nonexistent/dir"],
                             capture_output=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        half = subprocess.run([sys.executable, SCRIPT, "--root", self.root, "--tls-cert", "x.pem"],
                              capture_output=True, timeout=30)
        self.assertEqual(half.returncode, 2)
        self.assertIn(b"--tls-key", half.stderr)

    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
    def test_tls_serves_both_ports_over_https_with_the_given_certificate(self):
        cert, key = os.path.join(self.tmp.name, "cert.pem"), os.path.join(self.tmp.name, "key.pem")
        gen = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                              "-addext", "subjectAltName=IP:127.0.0.1"],
                             capture_output=True, timeout=60)
        self.assertEqual(gen.returncode, 0, gen.stderr)
        other = MockHub(self.root, "--tls-cert", cert, "--tls-key", key)
        try:
            self.assertTrue(other.hub.startswith("https://") and other.cdn.startswith("https://"))
            trusting = ssl.create_default_context(cafile=cert)
            r = request("GET", other.hub + "/org/plain/resolve/main/config.json", context=trusting)
            self.assertEqual((r.status, r.body), (200, PLAIN["config.json"]))
            lfs = request("HEAD", other.hub + "/org/faulty/resolve/main/blob.bin", context=trusting)
            loc = lfs.headers["Location"]
            self.assertTrue(loc.startswith(other.cdn + "/"), loc)
            body = request("GET", loc, context=trusting).body
            self.assertEqual(body, FAULTY["blob.bin"])
            # A client with only the system's CAs refuses the self-signed certificate; the
            # failed handshake ends that connection only, and the server keeps serving.
            with self.assertRaises(ssl.SSLCertVerificationError):
                request("GET", other.hub + "/org/plain/resolve/main/config.json",
                        context=ssl.create_default_context())
            # Plain HTTP on a TLS port is refused too, without stopping the server.
            raw_exchange(other.hub.replace("https://", "http://"), b"GET / HTTP/1.1\r\n\r\n")
            stats = request("GET", other.hub + "/_mock/stats", context=trusting).json()
            self.assertEqual(stats["cdn"]["total"], 1)
            self.assertEqual(stats["hub"]["total"], 2)
        finally:
            rc, rest = other.stop()
        self.assertEqual((rc, rest), (0, b""))
        self.assertNotIn("Traceback", other.errors())
        other.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
