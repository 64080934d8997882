// Unit tests of the verify page's logic (src/orderarchive/site_assets/verify.js) with node's
// crypto.subtle. Run by tests/test_site_js.py, which publishes the sites named in
// OA_TEST_SITES (JSON: {name: {dir, files: {label: path}}}) and the expectations.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const OA = require(path.resolve(__dirname, "../../src/orderarchive/site_assets/verify.js"));
const SITES = JSON.parse(process.env.OA_TEST_SITES || "{}");

function fetcher(dir, log) {
  return async (p, limit) => {
    if (log) log.push(p);
    const full = path.join(dir, ...p.split("/"));
    if (!fs.existsSync(full)) return null;
    const data = fs.readFileSync(full);
    if (data.length > limit) throw new OA.CheckError("fetch", p + " is too large");
    return new Uint8Array(data);
  };
}

async function check(siteName, file, opts = {}) {
  const site = SITES[siteName];
  const trust = JSON.parse(fs.readFileSync(path.join(site.dir, "trust.json"), "utf8"));
  const keys = [];
  for (const v of opts.keys || trust.verifiers) keys.push(await OA.parseVkey(v));
  const log = [];
  const r = await OA.verifyFile(new Uint8Array(fs.readFileSync(file)), {
    fetchBytes: fetcher(opts.dir || site.dir, log), keys, origin: trust.origin,
  });
  r.fetched = log;
  return r;
}

test("tile paths are C2SP tlog-tiles paths", () => {
  assert.equal(OA.tileIndex(0), "000");
  assert.equal(OA.tileIndex(1234067), "x001/x234/067");
  assert.equal(OA.tileIndex(1000), "x001/000");
  assert.equal(OA.tilePath(0, 1, 44), "tile/0/001.p/44");
  assert.equal(OA.tilePath(1, 0, 256), "tile/1/000");
  assert.equal(OA.bundlePath(1234, 256), "tile/entries/x001/234");
  assert.equal(OA.bundlePath(0, 4), "tile/entries/000.p/4");
});

test("Ed25519 in WebCrypto: RFC 8032 test 1 verifies", async () => {
  assert.equal(await OA.ed25519Available(), true);
});

test("verifier keys: the key ID must match the key", async () => {
  const k = await OA.parseVkey("sample.orderarchive.example/boston-executive-orders+f3b69ffb+AdxrYepXuEonHuIqH9AlO8Jo6c5evFb8t+Q463MvfEZy");
  assert.equal(k.name, "sample.orderarchive.example/boston-executive-orders");
  assert.equal(k.idHex, "f3b69ffb");
  await assert.rejects(OA.parseVkey("sample.orderarchive.example/boston-executive-orders+f3b69ffc+AdxrYepXuEonHuIqH9AlO8Jo6c5evFb8t+Q463MvfEZy"), /key ID does not match/);
  await assert.rejects(OA.parseVkey("name+f3b69ffb+AdxrYepXuEonHuIqH9AlO8Jo6c5evFb8t+Q463MvfEZ"), /base64/);
  await assert.rejects(OA.parseVkey("no-plus-signs"), /not a verifier key/);
});

test("canonical JSON: duplicate keys, floats, unsorted keys, escapes are refused", () => {
  const ok = '{"a":1,"b":"x\\u001f\\n\u00e9"}';
  assert.equal(OA.canonical(JSON.parse(ok)), ok);
  for (const bad of ['{"a":1,"a":2}', '{"a":1.5}', '{"b":1,"a":2}', '{"a":"\\u00e9"}',
    '{"a":1.0}', '{"a": 1}', '{"a":"\\ud800"}', '{"a":-0}']) {
    let same = false;
    try { same = OA.canonical(JSON.parse(bad)) === bad; } catch (e) { same = false; }
    assert.equal(same, false, bad);
  }
});

test("signed notes: malformed notes are refused with a CheckError", () => {
  const enc = new TextEncoder();
  for (const bad of ["a\n1\nroot\n", "a\n\n\u2014 a\n", "a\n\n\u2014 a AAAA\n", "a\n\n- a AAAAAAAA\n", "a\n\n"]) {
    assert.throws(() => OA.parseNote(enc.encode(bad)), OA.CheckError, JSON.stringify(bad));
  }
  assert.throws(() => OA.parseNote(Uint8Array.of(0xff, 0x0a, 0x0a)), /UTF-8/);
});

test("RFC 9162 inclusion: a wrong or short proof does not lead to the root", async () => {
  const leaf = new Uint8Array(32);
  await assert.rejects(OA.rootFromInclusionProof(leaf, 0, 2, []), /too short/);
  await assert.rejects(OA.rootFromInclusionProof(leaf, 0, 1, [leaf]), /too long/);
  await assert.rejects(OA.rootFromInclusionProof(leaf, 2, 2, []), /beyond/);
});

for (const [name, site] of Object.entries(SITES)) {
  for (const [label, want] of Object.entries(site.expect || {})) {
    test(`${name}: ${label} -> ${want.verdict}`, async () => {
      const r = await check(name, site.files[want.file || label], { dir: want.dir, keys: want.keys });
      assert.equal(r.verdict, want.verdict, JSON.stringify(r));
      if (want.doc) assert.equal(r.doc.doc, want.doc);
      if (want.release !== undefined) assert.equal(r.release, want.release);
      if (want.reason) assert.match(r.reason, new RegExp(want.reason));
      if (want.verdict === "official") {
        const passed = r.checks.filter((c) => c.ok).map((c) => c.check);
        for (const c of ["sha256", "checkpoint", "release", "entry", "signature", "inclusion"]) {
          assert.ok(passed.includes(c), c + " not among " + passed);
        }
        assert.ok(r.checks.every((c) => c.ok));
      } else {
        assert.ok(r.verdict !== "official");
      }
      if (want.maxFetches) assert.ok(r.fetched.length <= want.maxFetches, r.fetched.join(" "));
      if (want.next) assert.match(r.next, new RegExp(want.next));
    });
  }
}

test("a browser without Ed25519 in WebCrypto gets 'cannot check', never 'official'", async (t) => {
  const [name, site] = Object.entries(SITES)[0];
  const label = Object.keys(site.expect).find((l) => site.expect[l].verdict === "official");
  const subtle = globalThis.crypto.subtle;
  const original = subtle.importKey;
  const keys = [];
  const trust = JSON.parse(fs.readFileSync(path.join(site.dir, "trust.json"), "utf8"));
  for (const v of trust.verifiers) keys.push(await OA.parseVkey(v));
  subtle.importKey = async () => { throw new DOMException("Unrecognized name.", "NotSupportedError"); };
  t.after(() => { subtle.importKey = original; });
  assert.equal(await OA.ed25519Available(), false);
  const r = await OA.verifyFile(new Uint8Array(fs.readFileSync(site.files[label])), {
    fetchBytes: fetcher(site.dir), keys, origin: trust.origin,
  });
  assert.equal(r.verdict, "cannot-check");
  assert.match(r.reason, /no Ed25519 in WebCrypto/);
});

// -- the checkpoint remembered between visits (rollback and fork) ----------------------------

function mapMemory(initial) {
  const m = new Map(Object.entries(initial || {}));
  return { get: (o) => m.get(o) || null, set: (o, v) => m.set(o, v), map: m };
}

function noteRoot(file) {
  const note = OA.parseNote(new Uint8Array(fs.readFileSync(file)));
  return OA.hex(OA.parseCheckpoint(note.text).root);
}

async function checkWith(site, file, memory, override) {
  const trust = JSON.parse(fs.readFileSync(path.join(site.dir, "trust.json"), "utf8"));
  const keys = [];
  for (const v of trust.verifiers) keys.push(await OA.parseVkey(v));
  const plain = fetcher(site.dir);
  const fetchBytes = async (p, limit) => (override && p in override
    ? new Uint8Array(fs.readFileSync(override[p])) : plain(p, limit));
  return OA.verifyFile(new Uint8Array(fs.readFileSync(file)), {
    fetchBytes, keys, origin: trust.origin, memory,
  });
}

test("consistency proofs from the tiles: every old size of a 300-entry tree", async () => {
  const site = SITES.large;
  const root = OA.parseCheckpoint(OA.parseNote(new Uint8Array(
    fs.readFileSync(path.join(site.dir, "checkpoint")))).text).root;
  const reader = OA.tileReader(fetcher(site.dir), 300);
  for (const m of [1, 2, 3, 4, 5, 7, 8, 9, 100, 128, 255, 256, 257, 299, 300]) {
    const old = await reader.mth(0, m);
    const proof = await reader.consistency(m);
    assert.equal(await OA.verifyConsistency(m, 300, old, root, proof), true, "size " + m);
    if (proof.length) {
      const bad = proof.map((h) => h.slice());
      bad[0][0] ^= 1;
      assert.equal(await OA.verifyConsistency(m, 300, old, root, bad), false, "flipped " + m);
    }
    const wrong = old.slice();
    wrong[31] ^= 1;
    assert.equal(await OA.verifyConsistency(m, 300, wrong, root, proof), false, "old root " + m);
  }
});

test("consistency proofs: every transparency-dev/merkle vector, as merkle.verify_consistency", async () => {
  const dir = path.resolve(__dirname, "../data/vectors/transparency-dev-merkle/testdata/consistency");
  const b64 = (s) => (s == null ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, "base64")));
  let count = 0;
  for (const sub of fs.readdirSync(dir)) {
    for (const name of fs.readdirSync(path.join(dir, sub))) {
      const v = JSON.parse(fs.readFileSync(path.join(dir, sub, name), "utf8"));
      const got = await OA.verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2),
        (v.proof || []).map(b64));
      assert.equal(got, !v.wantErr, sub + "/" + name);
      count += 1;
    }
  }
  assert.ok(count > 90, "vectors read: " + count);
  // 2^50 + 1 is not a power of two (Math.log2 rounds it to 50): the proof from it to
  // 2^50 + 2 is [leaf k, leaf k+1, MTH(D[0:k])] with k = 2^50 (RFC 9162 §2.1.4.1).
  const node = async (l, r) => new Uint8Array(await crypto.subtle.digest("SHA-256",
    Buffer.concat([Buffer.of(1), l, r])));
  const [left, a, b] = [1, 2, 3].map((x) => new Uint8Array(32).fill(x));
  const first = 2 ** 50 + 1;
  const r1 = await node(left, a);
  const r2 = await node(left, await node(a, b));
  assert.equal(await OA.verifyConsistency(first, first + 1, r1, r2, [a, b, left]), true);
  assert.equal(await OA.verifyConsistency(first, first + 1, r2, r2, [a, b, left]), false);
});

test("the remembered checkpoint: a rollback or a fork is refused, a grown log accepted", async () => {
  const site = SITES.sample;
  const official = site.files.official;
  const origin = JSON.parse(fs.readFileSync(path.join(site.dir, "trust.json"), "utf8")).origin;
  const older = path.join(site.dir, "releases", "3");
  // First visit: the published release 4 is remembered.
  const memory = mapMemory();
  let r = await checkWith(site, official, memory);
  assert.equal(r.verdict, "official");
  assert.equal(memory.map.get(origin).size, 4);
  // Later, the site serves the older signed release 3 as its checkpoint: a rollback.
  r = await checkWith(site, official, memory, { checkpoint: older });
  assert.equal(r.verdict, "rollback", JSON.stringify(r));
  assert.match(r.reason, /^ROLLBACK: .*tree size 3, older than tree size 4/);
  assert.equal(memory.map.get(origin).size, 4); // the larger one is kept
  // A browser that saw release 3 accepts release 4 with a consistency proof from the tiles.
  const saw3 = mapMemory({ [origin]: { size: 3, root: noteRoot(older) } });
  r = await checkWith(site, official, saw3);
  assert.equal(r.verdict, "official");
  assert.ok(r.checks.some((c) => c.check === "history" && c.ok && /extends tree size 3/.test(c.text)));
  assert.equal(saw3.map.get(origin).size, 4);
  // Another root at the same size, or an old tree the new one does not extend: a fork.
  r = await checkWith(site, official, mapMemory({ [origin]: { size: 4, root: "00".repeat(32) } }));
  assert.equal(r.verdict, "rollback");
  assert.match(r.reason, /^FORK: .*differs/);
  r = await checkWith(site, official, mapMemory({ [origin]: { size: 3, root: "11".repeat(32) } }));
  assert.equal(r.verdict, "rollback");
  assert.match(r.reason, /^FORK: .*does not extend/);
  // An unknown file on a rolled-back site is refused too (an older log can hide a document).
  r = await checkWith(site, site.files["unknown-file"], memory, { checkpoint: older });
  assert.equal(r.verdict, "rollback");
  // Unreadable memory is overwritten, not trusted.
  const junk = mapMemory({ [origin]: { size: "x", root: 5 } });
  r = await checkWith(site, official, junk);
  assert.equal(r.verdict, "official");
  assert.equal(junk.map.get(origin).size, 4);
});
