"""The CDN port: serves LFS content by sha256 from pre-signed URLs, like cdn-lfs.hf.co.

Design notes
 - the Hub port hands out URLs /repos/{type}/{repo}/{sha256}/{path}?...&Expires=E&Signature=S
   and records which file holds that sha256; S is an HMAC of (sha256, E) under a per-process
   key, so a URL whose query was dropped or altered is refused (403), as a signed URL would be;
 - before serving, the file's current sha256 (cached by the hash cache) is checked against the
   URL's, so content that changed on disk is a 404, never the wrong bytes;
 - --cdn-url points the Hub's redirects at another server (same path layout) instead;
 - the CDN never looks at Authorization (the request log records whether one came);
   --throttle-bps applies to every CDN body unless a fault sets its own throttle.
"""

import hashlib
import hmac
import os
import re
import threading
import time
import urllib.parse

from .server import Answer, Response, file_response, http_date

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_PAIR_ID = "K3MOCKHUBLOCAL"


def s3_error(status, code, message):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '</Error>' % (code, message)).encode()
    return Answer(Response(status, [("Content-Type", "application/xml")], body))


class Cdn:
    def __init__(self, app, expiry, throttle_bps):
        self.app = app
        self.expiry = expiry
        self.throttle_bps = throttle_bps
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._blobs = {}                       # sha256 -> file path
        self.base_url = None                   # where LFS redirects point (set once listening)

    def _sign(self, sha, expires):
        return hmac.new(self._key, ("%s\n%d" % (sha, expires)).encode(),
                        hashlib.sha256).hexdigest()[:40]

    def url_for(self, repo, f):
        """A signed CDN URL for LFS file `f` of `repo` (absolute, on the CDN port)."""
        sha = f.lfs["oid"]
        with self._lock:
            self._blobs[sha] = f.fs
        expires = int(time.time()) + self.expiry
        name = f.path.rsplit("/", 1)[-1]
        disposition = "inline; filename*=UTF-8''%s; filename=\"%s\";" % (
            urllib.parse.quote(name), name.encode("ascii", "replace").decode().replace('"', "_"))
        query = urllib.parse.urlencode([
            ("response-content-disposition", disposition),
            ("response-content-type", "application/octet-stream"),
            ("Expires", str(expires)), ("Signature", self._sign(sha, expires)),
            ("Key-Pair-Id", KEY_PAIR_ID)])
        return "%s/repos/%s/%s/%s/%s?%s" % (self.base_url, repo.type, repo.id, sha,
                                            urllib.parse.quote(f.path), query)

    def __call__(self, req):
        if req.method not in ("GET", "HEAD"):
            raise s3_error(405, "MethodNotAllowed", "The specified method is not allowed.")
        raw = req.path.split("/")[1:]
        sha = next((s for s in raw[2:] if SHA256_RE.match(s)), None) if raw[:1] == ["repos"] \
            else None
        if sha is None:
            raise s3_error(404, "NoSuchKey", "The specified key does not exist.")
        try:
            expires = int(req.arg("Expires", ""))
        except ValueError:
            expires = None
        if expires is None or not hmac.compare_digest(req.arg("Signature", ""),
                                                      self._sign(sha, expires)):
            raise s3_error(403, "AccessDenied", "Invalid signature or missing query parameters.")
        if expires < time.time():
            raise s3_error(403, "AccessDenied", "Request has expired")
        with self._lock:
            path = self._blobs.get(sha)
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        if st is None or self.app.hub.hashes.digest(path, st, "sha256") != sha:
            raise s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if req.effect.throttle_bps is None:
            req.effect.throttle_bps = self.throttle_bps
        return file_response(req, path, st.st_size, sha, [
            ("Content-Type", req.arg("response-content-type", "application/octet-stream")),
            ("Content-Disposition", req.arg("response-content-disposition", "attachment")),
            ("Last-Modified", http_date(st.st_mtime)),
            ("Cache-Control", "public, max-age=604800, immutable, s-maxage=604800"),
            ("X-Cache", "Miss from cloudfront"),
            ("Via", "1.1 hf-mock-hub.cloudfront.net (CloudFront)")])
