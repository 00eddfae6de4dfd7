// js-cache-compat.mjs - the comparison behind js-cache-compat.sh (run that, not this).
//
// Design notes: both clients download the same mock repo into their own cache (JS:
// snapshotDownload into A, downloadFileToCacheDir into A1; hfasync: hf-fetch into B and B1);
// then every path under models--ORG--NAME is compared (kind, bytes, symlink target) between
// the two caches and against what the repo's files say it must be (blob names = git blob
// sha1 or LFS sha256, refs/main = the commit with no newline, relative links). Then each
// client reads the other's cache: hf-fetch offline on A (no request may reach the mock) and
// scanCacheDir on B. Differences go to `diffs` (exit 1); differences the project documents,
// and quirks of the JS client that hit its own cache as much as hfasync's, go to `notes`.
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const { work, hub, repo, src, fetch: hfFetch, hfjs } = args;
const require = createRequire(path.join(hfjs, "package.json"));
const hfhub = require(hfjs);

const diffs = [];
const notes = [];
const diff = (m) => diffs.push(m);
const note = (m) => notes.push(m);
const section = (t) => console.log(`\n== ${t}`);
const folderOf = (id) => "models--" + id.split("/").join("--");
const repoFolder = folderOf(repo);
const LFS_THRESHOLD = 65536;

// the JS client prints "Downloading X to Y.incomplete" through console.debug: keep it quiet
const debugLines = [];
console.debug = (...a) => debugLines.push(a.join(" "));

const sha = (algo, buf) => createHash(algo).update(buf).digest("hex");
const gitBlob = (buf) => sha("sha1", Buffer.concat([Buffer.from(`blob ${buf.length}\0`), buf]));

/* What the repo holds: path -> {bytes, etag, lfs} (etag = the blob's name in the cache). */
function expectedFiles(src) {
    const out = new Map();
    const walk = (rel) => {
        for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (!rel && (e.name === ".mockhub.json" || e.name === ".mockhub" || e.name === ".git")) continue;
            if (e.isDirectory()) walk(r);
            else {
                const bytes = fs.readFileSync(path.join(src, r));
                const lfs = bytes.length >= LFS_THRESHOLD || r.endsWith(".bin");
                out.set(r, { bytes, lfs, etag: lfs ? sha("sha256", bytes) : gitBlob(bytes) });
            }
        }
    };
    walk("");
    return out;
}

/* Everything under `root`: rel -> {kind, target?, bytes?}; files keep their bytes. */
function walkTree(root) {
    const out = new Map();
    if (!fs.existsSync(root)) return out;
    const walk = (rel) => {
        for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
            const r = rel ? `${rel}/${name}` : name;
            const full = path.join(root, r);
            const st = fs.lstatSync(full);
            if (st.isSymbolicLink()) out.set(r, { kind: "link", target: fs.readlinkSync(full) });
            else if (st.isDirectory()) { out.set(r, { kind: "dir" }); walk(r); }
            else if (st.isFile()) out.set(r, { kind: "file", bytes: fs.readFileSync(full) });
            else out.set(r, { kind: "other" });
        }
    };
    walk("");
    return out;
}

const show = (e) => !e ? "absent"
    : e.kind === "link" ? `symlink -> ${e.target}`
    : e.kind === "file" ? `file, ${e.bytes.length} bytes, sha256 ${sha("sha256", e.bytes).slice(0, 16)}…`
        + (e.bytes.length <= 64 ? ` ${JSON.stringify(e.bytes.toString("latin1"))}` : "")
    : e.kind;

function sameEntry(a, b) {
    if (!a || !b || a.kind !== b.kind) return false;
    if (a.kind === "link") return a.target === b.target;
    if (a.kind === "file") return a.bytes.equals(b.bytes);
    return true;
}

/* Compare two trees; `classify(rel, a, b)` may turn a difference into a note (returns text). */
function compareTrees(nameA, ta, nameB, tb, classify = () => null) {
    const all = [...new Set([...ta.keys(), ...tb.keys()])].sort();
    let same = 0;
    for (const rel of all) {
        const a = ta.get(rel), b = tb.get(rel);
        if (sameEntry(a, b)) { same++; continue; }
        const why = classify(rel, a, b);
        const msg = `${repoFolder}/${rel}: ${nameA} ${show(a)}; ${nameB} ${show(b)}`;
        if (why) note(`${msg} [${why}]`); else diff(msg);
    }
    console.log(`${all.length} paths, ${same} identical in ${nameA} and ${nameB}`);
}

/* Check one cache against the repo: blobs, snapshot links, refs, nothing else. */
function checkAgainstRepo(name, tree, files, commit, { wantRefs, onlyFiles, folder = repoFolder }) {
    const want = new Map();
    const addDirs = (rel) => {
        const parts = rel.split("/");
        for (let i = 1; i < parts.length; i++) want.set(parts.slice(0, i).join("/"), { kind: "dir" });
    };
    for (const [p, f] of files) {
        if (onlyFiles && !onlyFiles.includes(p)) continue;
        const link = `snapshots/${commit}/${p}`;
        const up = "../".repeat(p.split("/").length + 1);
        want.set(`blobs/${f.etag}`, { kind: "file", bytes: f.bytes });
        want.set(link, { kind: "link", target: `${up}blobs/${f.etag}` });
        addDirs(`blobs/${f.etag}`);
        addDirs(link);
    }
    if (wantRefs) {
        want.set("refs/main", { kind: "file", bytes: Buffer.from(commit) });
        want.set("refs", { kind: "dir" });
    }
    let bad = 0;
    for (const rel of [...new Set([...want.keys(), ...tree.keys()])].sort()) {
        const w = want.get(rel), t = tree.get(rel);
        if (sameEntry(w, t)) continue;
        if (!w && t && t.kind === "dir" && onlyFiles === undefined) continue; // reported by A/B
        bad++;
        const msg = `${name}: ${folder}/${rel}: expected ${show(w)}, found ${show(t)}`;
        if (name.startsWith("JS") ) note(`${msg} [the JS client's own cache]`); else diff(msg);
    }
    console.log(`${name}: ${bad ? bad + " path(s) differ from" : "exactly"} what the repo's files make (${want.size} paths)`);
}

function runFetch(argv, env = {}) {
    const r = spawnSync(hfFetch, argv, {
        env: { ...process.env, HF_ENDPOINT: hub, HF_HOME: path.join(work, "hf-home"),
               HF_TOKEN: "", HF_HUB_DISABLE_IMPLICIT_TOKEN: "1", ...env },
        encoding: "utf8",
    });
    return { rc: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function mock(p, method = "GET") {
    const r = await fetch(`${hub}${p}`, { method });
    return r.json();
}

function normScan(scan, cacheDir) {
    const rel = (p) => path.relative(cacheDir, p);
    return {
        warnings: scan.warnings.map((w) => String(w.message ?? w).split(cacheDir).join("<cache>")),
        size: scan.size,
        repos: scan.repos.map((r) => ({
            id: r.id, path: rel(r.path), size: r.size, filesCount: r.filesCount,
            revisions: r.revisions.map((v) => ({
                commitOid: v.commitOid, path: rel(v.path), size: v.size, refs: [...v.refs].sort(),
                files: v.files.map((f) => ({ path: rel(f.path), blob: rel(f.blob.path), size: f.blob.size }))
                    .sort((a, b) => a.path.localeCompare(b.path)),
            })).sort((a, b) => a.commitOid.localeCompare(b.commitOid)),
        })),
    };
}

// ---------------------------------------------------------------------------------------
const files = expectedFiles(src);
const info = await mock(`/api/models/${repo}`);
const commit = info.sha;
console.log(`repo ${repo} at commit ${commit}: ${files.size} files`);
for (const [p, f] of files) console.log(`  ${p}: ${f.bytes.length} bytes, ${f.lfs ? "LFS" : "regular"}, etag ${f.etag}`);

const cache = (n) => path.join(work, n);
const A = cache("A-js-snapshot"), A1 = cache("A1-js-file"), B = cache("B-hfasync-snapshot"), B1 = cache("B1-hfasync-file");
const oneFiles = ["config.json", "model.bin"];

section("downloads");
try {
    const snap = await hfhub.snapshotDownload({ repo: { type: "model", name: repo }, hubUrl: hub, cacheDir: A });
    console.log(`JS snapshotDownload -> ${path.relative(work, snap)}`);
} catch (e) { diff(`JS snapshotDownload failed: ${e.stack ?? e}`); }
for (const f of oneFiles) {
    try {
        const p = await hfhub.downloadFileToCacheDir({ repo: { type: "model", name: repo }, path: f, hubUrl: hub, cacheDir: A1 });
        console.log(`JS downloadFileToCacheDir ${f} -> ${path.relative(work, p)}`);
    } catch (e) { diff(`JS downloadFileToCacheDir ${f} failed: ${e.stack ?? e}`); }
}
{
    const r = runFetch(["download", repo, "--cache-dir", B, "--quiet"]);
    console.log(`hf-fetch download ${repo} (rc ${r.rc}) -> ${path.relative(work, r.out)}`);
    if (r.rc !== 0) diff(`hf-fetch download ${repo} failed, rc ${r.rc}: ${r.err}`);
    const r1 = runFetch(["download", repo, ...oneFiles, "--cache-dir", B1, "--quiet"]);
    console.log(`hf-fetch download ${repo} ${oneFiles.join(" ")} (rc ${r1.rc}) -> ${path.relative(work, r1.out)}`);
    if (r1.rc !== 0) diff(`hf-fetch download ${repo} ${oneFiles.join(" ")} failed, rc ${r1.rc}: ${r1.err}`);
}
const top = (d) => fs.existsSync(d) ? fs.readdirSync(d).sort().join(" ") : "(none)";
console.log(`top of caches: A: ${top(A)} | B: ${top(B)} | A1: ${top(A1)} | B1: ${top(B1)}`);

section("whole repo: JS snapshotDownload (A) vs hf-fetch download (B)");
const tA = walkTree(path.join(A, repoFolder)), tB = walkTree(path.join(B, repoFolder));
compareTrees("A(JS)", tA, "B(hfasync)", tB);
checkAgainstRepo("B(hfasync)", tB, files, commit, { wantRefs: true });
checkAgainstRepo("JS A", tA, files, commit, { wantRefs: true });
console.log(`refs/main: A ${show(tA.get("refs/main"))}; B ${show(tB.get("refs/main"))}`);
const snapDirs = (t) => [...t.keys()].filter((k) => /^snapshots\/[^/]+$/.test(k)).join(", ");
console.log(`snapshot folders: A ${snapDirs(tA) || "none"}; B ${snapDirs(tB) || "none"}`);

section("single files: JS downloadFileToCacheDir (A1) vs hf-fetch download REPO FILE... (B1)");
const tA1 = walkTree(path.join(A1, repoFolder)), tB1 = walkTree(path.join(B1, repoFolder));
compareTrees("A1(JS)", tA1, "B1(hfasync)", tB1, (rel, a, b) =>
    (rel === "refs" || rel === "refs/main") && !a && b
        ? "documented: downloadFileToCacheDir writes no refs/ (README.md, client table)" : null);
checkAgainstRepo("B1(hfasync)", tB1, files, commit, { wantRefs: true, onlyFiles: oneFiles });
console.log(`downloadFileToCacheDir filed its links under: ${snapDirs(tA1) || "none"} `
    + `(the mock's lastCommit of each file is the branch's commit ${commit}, so the documented `
    + `"last commit" placement cannot differ here)`);
{
    // the placement itself, read from the installed client's code
    const dist = fs.readFileSync(path.join(hfjs, "dist", "index.js"), "utf8");
    const m = dist.match(/const snapshotId = [^;\n]*/);
    note(`installed downloadFileToCacheDir: ${m ? m[0] : "(no `const snapshotId =` line found)"} `
         + `[documented: on a branch the link goes under the file's last commit (paths-info lastCommit.id), `
         + `not the branch's head commit, when the two differ]`);
}

section("cross-read 1: HF_HUB_OFFLINE=1 hf-fetch on the JS client's cache A");
{
    await mock("/_mock/reset", "POST");
    const before = walkTree(path.join(A, repoFolder));
    const r = runFetch(["download", repo, "--cache-dir", A, "--quiet"], { HF_HUB_OFFLINE: "1" });
    const want = path.join(A, repoFolder, "snapshots", commit);
    console.log(`whole repo: rc ${r.rc}, printed ${path.relative(work, r.out) || "(nothing)"}`);
    if (r.rc !== 0) diff(`offline hf-fetch download ${repo} on A: rc ${r.rc}: ${r.err}`);
    else if (path.resolve(r.out) !== want) diff(`offline hf-fetch download ${repo} on A printed ${r.out}, expected ${want}`);
    let found = 0;
    for (const [p, f] of files) {
        const one = runFetch(["download", repo, p, "--cache-dir", A, "--quiet"], { HF_HUB_OFFLINE: "1" });
        const wantPath = path.join(want, p);
        let ok = one.rc === 0 && path.resolve(one.out) === wantPath;
        if (ok) {
            const got = fs.readFileSync(one.out);
            ok = got.equals(f.bytes);
        }
        if (ok) found++;
        else diff(`offline hf-fetch download ${repo} '${p}' on A: rc ${one.rc}, printed '${one.out}' `
                  + `(expected ${wantPath} with the repo's bytes) ${one.err}`);
    }
    const stats = await mock("/_mock/stats");
    console.log(`each file offline: ${found}/${files.size} found with the right bytes; `
                + `requests at the mock meanwhile: ${stats.total}`);
    if (stats.total !== 0) diff(`offline hf-fetch on A sent ${stats.total} request(s) to the mock: ${JSON.stringify(stats)}`);
    const after = walkTree(path.join(A, repoFolder));
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => !sameEntry(before.get(k), after.get(k)));
    if (changed.length) diff(`offline hf-fetch changed the JS cache A: ${changed.join(", ")}`);
    // downloadFileToCacheDir alone leaves no refs/main: an offline lookup of "main" has nothing to go on
    const r1 = runFetch(["download", repo, "config.json", "--cache-dir", A1, "--quiet"], { HF_HUB_OFFLINE: "1" });
    note(`offline hf-fetch download ${repo} config.json on A1 (downloadFileToCacheDir only, no refs/main): `
         + `rc ${r1.rc}${r1.rc ? ` (${r1.err.split("\n")[0]})` : ""} [follows from the documented missing refs/]`);
    const r2 = runFetch(["download", repo, "config.json", "--revision", commit, "--cache-dir", A1, "--quiet"],
                        { HF_HUB_OFFLINE: "1" });
    console.log(`offline on A1 by commit: rc ${r2.rc}, printed ${path.relative(work, r2.out) || r2.err}`);
    if (r2.rc !== 0) diff(`offline hf-fetch download ${repo} config.json --revision ${commit} on A1: rc ${r2.rc}: ${r2.err}`);
    const s2 = await mock("/_mock/stats");
    if (s2.total !== 0) diff(`offline hf-fetch on A1 sent ${s2.total} request(s) to the mock`);
}

section("cross-read 2: JS scanCacheDir on hfasync's cache B (and on its own A)");
{
    const sB = normScan(await hfhub.scanCacheDir(B), B), sA = normScan(await hfhub.scanCacheDir(A), A);
    console.log("scanCacheDir(B) = " + JSON.stringify(sB, null, 1).replace(/\n\s*/g, " "));
    if (JSON.stringify(sA) !== JSON.stringify(sB)) {
        diff(`scanCacheDir differs between A and B:\n      A: ${JSON.stringify(sA)}\n      B: ${JSON.stringify(sB)}`);
    }
    if (sB.warnings.length) diff(`scanCacheDir(B) warnings: ${sB.warnings.join("; ")}`);
    const r = sB.repos.find((x) => x.id?.name === repo && x.id?.type === "model");
    if (!r || sB.repos.length !== 1) diff(`scanCacheDir(B) should list exactly ${repo}: ${JSON.stringify(sB.repos.map((x) => x.id))}`);
    else if (r.revisions.length !== 1 || r.revisions[0].commitOid !== commit || r.revisions[0].refs.join() !== "main") {
        diff(`scanCacheDir(B) revisions: ${JSON.stringify(r.revisions.map((v) => [v.commitOid, v.refs]))}, `
             + `expected [[${commit}, [main]]]`);
    } else {
        const listed = new Map(r.revisions[0].files.map((f) => [f.path.split(`${commit}/`)[1], f]));
        const missing = [];
        for (const [p, f] of files) {
            const l = listed.get(p);
            if (!l) { missing.push(p); continue; }
            if (l.size !== f.bytes.length) diff(`scanCacheDir(B) size of ${p}: ${l.size}, expected ${f.bytes.length}`);
            if (l.blob !== `${repoFolder}/blobs/${f.etag}`) diff(`scanCacheDir(B) blob of ${p}: ${l.blob}`);
        }
        for (const p of listed.keys()) if (!files.has(p)) diff(`scanCacheDir(B) lists ${p}, not in the repo`);
        console.log(`scanCacheDir(B): ${listed.size} of ${files.size} files listed, sizes `
                    + `${diffs.some((d) => d.includes("scanCacheDir(B) size")) ? "WRONG" : "right"}; `
                    + `repo size ${r.size}, filesCount ${r.filesCount}`);
        const sAmissing = files.size - (sA.repos[0]?.revisions[0]?.files.length ?? 0);
        if (missing.length) {
            const nested = missing.every((p) => p.includes("/"));
            const msg = `scanCacheDir leaves out ${missing.join(", ")}`;
            if (nested && sAmissing === missing.length)
                note(`${msg} on B and on the JS client's own A alike [JS-client quirk: scanSnapshotDir `
                     + `skips subfolders of snapshots/<commit>/, so files in folders and their blobs are `
                     + `missing from files, size and filesCount]`);
            else diff(`${msg} on B (A misses ${sAmissing})`);
        }
    }
    const s1 = normScan(await hfhub.scanCacheDir(A1), A1);
    note(`scanCacheDir on A1 (the JS client's own downloadFileToCacheDir cache): repos ${s1.repos.length}, `
         + `warnings ${JSON.stringify(s1.warnings)} [JS-client quirk: scanCachedRepo stats refs/ `
         + `unconditionally, so a repo without refs/ is dropped with a warning]`);
}

section("an empty file (second repo): JS snapshotDownload (C) vs hf-fetch download (D)");
{
    const erepo = args["empty-repo"], efolder = folderOf(erepo);
    const efiles = expectedFiles(path.join(path.dirname(src), erepo.split("/")[1]));
    const ecommit = (await mock(`/api/models/${erepo}`)).sha;
    const C = cache("C-js-empty"), D = cache("D-hfasync-empty");
    let jsOk = true;
    try {
        await hfhub.snapshotDownload({ repo: { type: "model", name: erepo }, hubUrl: hub, cacheDir: C });
    } catch (e) {
        jsOk = false;
        note(`JS snapshotDownload ${erepo} (empty.txt, 0 bytes) failed: ${String(e.message).split("\n")[0]} `
             + `[JS-client quirk: fileDownloadInfo probes every file with GET and Range: bytes=0-0, which `
             + `no byte of an empty file satisfies (RFC 9110: 416); the whole snapshot stops there]`);
    }
    const r = runFetch(["download", erepo, "--cache-dir", D, "--quiet"]);
    console.log(`hf-fetch download ${erepo}: rc ${r.rc}; JS snapshotDownload ${jsOk ? "ok" : "failed (see notes)"}`);
    if (r.rc !== 0) diff(`hf-fetch download ${erepo} failed, rc ${r.rc}: ${r.err}`);
    const tC = walkTree(path.join(C, efolder)), tD = walkTree(path.join(D, efolder));
    checkAgainstRepo("D(hfasync)", tD, efiles, ecommit, { wantRefs: true, folder: efolder });
    if (jsOk) compareTrees("C(JS)", tC, "D(hfasync)", tD);
    // cross-read: the JS client finds hfasync's empty file without a request
    await mock("/_mock/reset", "POST");
    try {
        const p = await hfhub.downloadFileToCacheDir({ repo: { type: "model", name: erepo }, path: "empty.txt",
                                                       revision: ecommit, hubUrl: hub, cacheDir: D });
        const st = await mock("/_mock/stats");
        const ok = fs.readFileSync(p).length === 0 && st.total === 0;
        console.log(`JS downloadFileToCacheDir empty.txt at ${ecommit.slice(0, 12)}… on D: `
                    + `${path.relative(work, p)}, ${st.total} request(s)`);
        if (!ok) diff(`JS downloadFileToCacheDir on D: ${p}, ${st.total} request(s) at the mock`);
    } catch (e) { diff(`JS downloadFileToCacheDir empty.txt on D failed: ${e.message}`); }
    const sD = normScan(await hfhub.scanCacheDir(D), D);
    const ef = sD.repos[0]?.revisions[0]?.files.find((f) => f.path.endsWith("/empty.txt"));
    console.log(`scanCacheDir(D): ${sD.repos.length} repo(s), empty.txt ${ef ? `listed, size ${ef.size}` : "not listed"}`);
    if (!ef || ef.size !== 0 || sD.warnings.length) diff(`scanCacheDir(D): ${JSON.stringify(sD)}`);
}

section("verdict");
if (notes.length) {
    console.log(`${notes.length} documented difference(s) / JS-client quirk(s), not counted:`);
    for (const n of notes) console.log(`  - ${n}`);
}
if (diffs.length) {
    console.log(`FAIL: ${diffs.length} difference(s):`);
    for (const d of diffs) console.log(`  - ${d}`);
    process.exit(1);
}
console.log("OK: hfasync's cache matches @huggingface/hub's byte for byte, and each reads the other's");
process.exit(0);
