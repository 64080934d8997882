// orderarchive verify page: is this file the official one?
//
// Plain JavaScript, no build step, no third-party code. Every check uses WebCrypto
// (SHA-256, Ed25519) on bytes fetched from this site:
//   1. SHA-256 of the chosen file;
//   2. the signed checkpoint (C2SP signed-note + tlog-checkpoint), parsed here, its signature
//      line matched to a trusted key by name and key ID, the Ed25519 signature verified;
//   3. the latest signed release it names (releases/<N>), verified the same way;
//   4. the entry (from the C2SP tlog-tiles entry bundle): canonical JSON, signed by the log's
//      trusted key over "orderarchive/entry/v1\n" || canonical JSON without "sig", and naming
//      the file's SHA-256;
//   5. the RFC 9162 inclusion proof of that entry, built from the hash tiles and checked
//      against the checkpoint's root and the release's root.
// Only when all pass does the page say OFFICIAL. lookup/sha256/... only says where to look
// (which entry names a hash): a wrong lookup can hide a document, never make a file official.
//
// The same file runs in Node (module.exports) so its logic is unit-tested with node's
// crypto.subtle (tests/browser/verify.test.js).
"use strict";

const OA = (() => {
  const enc = new TextEncoder();
  const CONTEXT = enc.encode("orderarchive/entry/v1\n");
  const RELEASE_EXT = "orderarchive.release ";
  const MAX_SAFE = Number.MAX_SAFE_INTEGER;
  const LIMITS = { note: 64 * 1024, tile: 8192, bundle: 256 * (2 + 65535), json: 64 << 20 };

  class CheckError extends Error {
    constructor(check, message) {
      super(message);
      this.check = check;
    }
  }

  const subtle = () => {
    const c = globalThis.crypto;
    if (!c || !c.subtle) throw new CheckError("environment", "WebCrypto is not available");
    return c.subtle;
  };
  const sha256 = async (data) => new Uint8Array(await subtle().digest("SHA-256", data));
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  };
  const equal = (a, b) => {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  };
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const utf8 = (bytes, what) => {
    try {
      // ignoreBOM: a byte-order mark stays in the text (and is then refused), as in Python.
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (e) {
      throw new CheckError(what, what + " is not valid UTF-8");
    }
  };

  // Strict standard base64 with padding (RFC 4648 §4): re-encoding must give the input back.
  function b64decode(text, what) {
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
      throw new CheckError(what, what + " is not base64");
    }
    const bin = atob(text);
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (b64encode(out) !== text) throw new CheckError(what, what + " is not canonical base64");
    return out;
  }
  function b64encode(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  function decimal(text, what) {
    if (!/^(?:0|[1-9][0-9]{0,15})$/.test(text) || Number(text) > MAX_SAFE) {
      throw new CheckError(what, what + " is not a decimal number");
    }
    return Number(text);
  }

  // -- keys and signed notes (C2SP signed-note) ------------------------------------------------

  // key ID = SHA-256(name || LF || 0x01 || public key)[:4]  (signed-note, Ed25519 type 0x01)
  async function keyId(name, pub) {
    return (await sha256(cat(enc.encode(name), Uint8Array.of(0x0a, 0x01), pub))).slice(0, 4);
  }

  // A verifier key string "name+<8 hex>+base64(0x01 || 32-byte key)", as Go's note.NewVerifier.
  async function parseVkey(text) {
    const s = String(text).trim();
    const i = s.indexOf("+");
    const j = i < 0 ? -1 : s.indexOf("+", i + 1);
    if (i <= 0 || j < 0) throw new CheckError("key", "not a verifier key (name+id+key)");
    const name = s.slice(0, i);
    const idHex = s.slice(i + 1, j);
    if (!/^[0-9a-f]{8}$/.test(idHex)) throw new CheckError("key", "key ID is not 8 hex digits");
    const data = b64decode(s.slice(j + 1), "key");
    if (data.length !== 33 || data[0] !== 0x01) {
      throw new CheckError("key", "not an Ed25519 verifier key");
    }
    const pub = data.slice(1);
    const id = await keyId(name, pub);
    if (hex(id) !== idHex) throw new CheckError("key", "key ID does not match the key");
    return { name, id, idHex, pub, text: s };
  }

  async function ed25519Verify(pub, sig, msg) {
    let key;
    try {
      key = await subtle().importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new CheckError("environment", "this browser has no Ed25519 in WebCrypto (" +
        (e && e.name ? e.name : "error") + ")");
    }
    return subtle().verify({ name: "Ed25519" }, key, sig, msg);
  }

  // Split a signed note into its text and signature lines (C2SP signed-note): the text ends
  // at the last blank line; each signature line is "— <name> <base64(keyID[4] || sig)>".
  function parseNote(bytes) {
    const all = utf8(bytes, "checkpoint");
    const cut = all.lastIndexOf("\n\n");
    if (cut < 0) throw new CheckError("checkpoint", "the checkpoint is not a signed note");
    const text = all.slice(0, cut + 1);
    const sigPart = all.slice(cut + 2);
    if (!sigPart.endsWith("\n")) throw new CheckError("checkpoint", "signature lines must end with a newline");
    const sigs = [];
    for (const line of sigPart.slice(0, -1).split("\n")) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new CheckError("checkpoint", "malformed signature line in the checkpoint");
      const raw = b64decode(m[2], "checkpoint signature");
      if (raw.length < 5) throw new CheckError("checkpoint", "checkpoint signature too short");
      sigs.push({ name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) });
    }
    if (sigs.length === 0 || sigs.length > 100) {
      throw new CheckError("checkpoint", "the checkpoint has no signature lines");
    }
    return { text, sigs };
  }

  // The note's text, verified by one of the trusted keys (matched by name and key ID).
  async function openNote(bytes, keys, what) {
    const note = parseNote(bytes);
    const msg = enc.encode(note.text);
    for (const s of note.sigs) {
      for (const k of keys) {
        if (s.name === k.name && equal(s.id, k.id)) {
          if (s.sig.length === 64 && (await ed25519Verify(k.pub, s.sig, msg))) {
            return { text: note.text, key: k };
          }
          throw new CheckError(what, what + ": the signature of " + k.name + "+" + k.idHex +
            " does not verify");
        }
      }
    }
    throw new CheckError(what, what + " is not signed by a trusted key");
  }

  // tlog-checkpoint body: origin, size, base64 root, then extension lines.
  function parseCheckpoint(text) {
    const lines = text.split("\n");
    lines.pop(); // text ends with LF
    if (lines.length < 3) throw new CheckError("checkpoint", "checkpoint body is too short");
    const root = b64decode(lines[2], "checkpoint root");
    if (root.length !== 32) throw new CheckError("checkpoint", "checkpoint root is not 32 bytes");
    const extensions = lines.slice(3);
    const rel = extensions.filter((l) => l.startsWith(RELEASE_EXT));
    if (rel.length > 1) throw new CheckError("checkpoint", "two release lines in the checkpoint");
    return {
      origin: lines[0],
      size: decimal(lines[1], "checkpoint size"),
      root,
      extensions,
      release: rel.length ? decimal(rel[0].slice(RELEASE_EXT.length), "release size") : null,
    };
  }

  async function verifiedCheckpoint(bytes, keys, origin, what) {
    const opened = await openNote(bytes, keys, what);
    const cp = parseCheckpoint(opened.text);
    if (cp.origin !== origin) {
      throw new CheckError(what, what + " is for " + JSON.stringify(cp.origin) + ", not " +
        JSON.stringify(origin));
    }
    if (opened.key.name !== origin) throw new CheckError(what, what + " is not signed by the log's key");
    cp.key = opened.key;
    return cp;
  }

  // -- C2SP tlog-tiles paths and tiles ---------------------------------------------------------

  // N as 3-digit path elements, all but the last prefixed with "x": 1234067 -> x001/x234/067.
  function tileIndex(n) {
    let s = "";
    let rest = n;
    const parts = [];
    do {
      parts.unshift(String(rest % 1000).padStart(3, "0"));
      rest = Math.floor(rest / 1000);
    } while (rest > 0);
    for (let i = 0; i < parts.length - 1; i++) s += "x" + parts[i] + "/";
    return s + parts[parts.length - 1];
  }
  const tilePath = (level, n, width) =>
    "tile/" + level + "/" + tileIndex(n) + (width < 256 ? ".p/" + width : "");
  const bundlePath = (n, width) =>
    "tile/entries/" + tileIndex(n) + (width < 256 ? ".p/" + width : "");
  const pow2 = (h) => Math.pow(2, h);

  // Entry bundle: each entry as a big-endian uint16 length and its bytes.
  function parseBundle(bytes, width) {
    const out = [];
    let i = 0;
    while (i < bytes.length) {
      if (i + 2 > bytes.length) throw new CheckError("entry", "entry bundle is truncated");
      const n = (bytes[i] << 8) | bytes[i + 1];
      if (i + 2 + n > bytes.length) throw new CheckError("entry", "entry bundle is truncated");
      out.push(bytes.slice(i + 2, i + 2 + n));
      i += 2 + n;
    }
    if (out.length < width) throw new CheckError("entry", "entry bundle has too few entries");
    return out;
  }

  // Reads hashes and entries of a tree of `size` through fetched tiles. `fetch(path)` gives
  // the bytes or null (404). A partial tile that is gone is read from its full tile.
  function tileReader(fetchBytes, size) {
    const tiles = new Map();
    async function getTile(path, fullPath, width, limit, what) {
      const key = path;
      if (!tiles.has(key)) {
        tiles.set(key, (async () => {
          let data = await fetchBytes(path, limit);
          if (data === null && fullPath !== path) data = await fetchBytes(fullPath, limit);
          if (data === null) throw new CheckError("missing", what + " " + path + " is missing from the site");
          return data;
        })());
      }
      return tiles.get(key);
    }
    // Hashes of level L (tree height 8L) stored in a tree of `size`.
    const count = (level) => Math.floor(size / pow2(8 * level));
    async function hashTile(level, n) {
      const width = Math.min(256, count(level) - n * 256);
      if (width <= 0) throw new CheckError("inclusion", "tile beyond the tree");
      const data = await getTile(tilePath(level, n, width), tilePath(level, n, 256), width,
        LIMITS.tile, "tile");
      if (data.length !== 32 * width && !(data.length === 32 * 256 && width < 256)) {
        throw new CheckError("inclusion", "tile " + tilePath(level, n, width) + " has the wrong size");
      }
      return data;
    }
    // The hash of the perfect subtree of height h, number k (leaves k*2^h .. (k+1)*2^h - 1).
    async function subtree(h, k) {
      const level = Math.floor(h / 8);
      const r = h - 8 * level;
      const first = k * pow2(r);
      const n = Math.floor(first / 256);
      const data = await hashTile(level, n);
      let row = [];
      for (let i = first - n * 256; i < first - n * 256 + pow2(r); i++) {
        row.push(data.slice(32 * i, 32 * i + 32));
      }
      while (row.length > 1) {
        const next = [];
        for (let i = 0; i < row.length; i += 2) next.push(await sha256(cat(Uint8Array.of(1), row[i], row[i + 1])));
        row = next;
      }
      return row[0];
    }
    const largestPow2Below = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
    // RFC 9162 §2.1.1 MTH of leaves [lo, hi): the left part is always a perfect, aligned subtree.
    async function mth(lo, hi) {
      const n = hi - lo;
      if (Number.isInteger(Math.log2(n)) && lo % n === 0) return subtree(Math.log2(n), lo / n);
      const k = largestPow2Below(n);
      return sha256(cat(Uint8Array.of(1), await mth(lo, lo + k), await mth(lo + k, hi)));
    }
    // RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]), lowest level first.
    async function path(m, lo, hi) {
      const n = hi - lo;
      if (n <= 1) return [];
      const k = largestPow2Below(n);
      if (m < lo + k) return [...(await path(m, lo, lo + k)), await mth(lo + k, hi)];
      return [...(await path(m, lo + k, hi)), await mth(lo, lo + k)];
    }
    async function entry(seq) {
      const n = Math.floor(seq / 256);
      const width = Math.min(256, size - n * 256);
      const data = await getTile(bundlePath(n, width), bundlePath(n, 256), width, LIMITS.bundle,
        "entry bundle");
      return parseBundle(data, width)[seq - n * 256];
    }
    const leafFromTile = (seq) => subtree(0, seq);
    // RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b): the consistency proof from tree size m.
    async function subproof(m, lo, hi, b) {
      const n = hi - lo;
      if (m === n) return b ? [] : [await mth(lo, hi)];
      const k = largestPow2Below(n);
      if (m <= k) return [...(await subproof(m, lo, lo + k, b)), await mth(lo + k, hi)];
      return [...(await subproof(m - k, lo + k, hi, false)), await mth(lo, lo + k)];
    }
    const consistency = (m) => subproof(m, 0, size, true);
    return { subtree, mth, path, entry, leafFromTile, consistency, tilesFetched: () => tiles.size };
  }

  // RFC 9162 §2.1.3.2: the root that `proof` leads to from leaf hash `leaf` at `index`.
  async function rootFromInclusionProof(leaf, index, size, proof) {
    if (index >= size) throw new CheckError("inclusion", "index beyond the tree");
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new CheckError("inclusion", "inclusion proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(cat(Uint8Array.of(1), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(cat(Uint8Array.of(1), r, p));
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new CheckError("inclusion", "inclusion proof too short");
    return r;
  }

  // RFC 9162 §2.1.4.2: whether `proof` shows the tree (first, firstHash) to be a prefix of
  // the tree (second, secondHash). The proof's hashes come from unauthenticated tiles; the
  // check against both roots is what authenticates them.
  async function verifyConsistency(first, second, firstHash, secondHash, proof) {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first <= 0) return false;
    if (first === second) return proof.length === 0 && equal(firstHash, secondHash);
    if (first > second || proof.length === 0) return false;
    // Exact for every safe integer (Math.log2 rounds 2^50 + 1 to 50).
    const isPow2 = (n) => 2 ** Math.floor(Math.log2(n)) === n;
    const p = isPow2(first) ? [firstHash, ...proof] : proof.slice();
    let fn = first - 1;
    let sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = p[0];
    let sr = p[0];
    for (const c of p.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await sha256(cat(Uint8Array.of(1), c, fr));
        sr = await sha256(cat(Uint8Array.of(1), c, sr));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        sr = await sha256(cat(Uint8Array.of(1), sr, c));
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(fr, firstHash) && equal(sr, secondHash);
  }

  // The largest checkpoint this browser verified for a log, kept between visits (the page
  // passes localStorage; tests pass a Map). A site serving a smaller tree (a rollback) or a
  // tree that does not extend it (a fork: another root at the same size, or no consistency
  // proof from the tiles) is refused. Only a verified checkpoint is remembered.
  async function compareRemembered(memory, cp, reader) {
    if (!memory) return null;
    let seen = null;
    try {
      const s = memory.get(cp.origin);
      if (s && Number.isSafeInteger(s.size) && s.size > 0 && /^[0-9a-f]{64}$/.test(s.root)) seen = s;
    } catch (e) {
      seen = null; // unreadable memory: nothing to compare with; it is overwritten below
    }
    let said = null;
    if (seen !== null) {
      if (seen.size > cp.size) {
        throw new CheckError("rollback", "ROLLBACK: this site serves the signed log at tree " +
          "size " + cp.size + ", older than tree size " + seen.size + ", which this browser " +
          "verified here before. An older log can hide later documents and acts: its answer " +
          "is not used. Check with the clerk or the command line.");
      }
      const old = Uint8Array.from(seen.root.match(/../g), (x) => parseInt(x, 16));
      if (seen.size === cp.size) {
        if (!equal(old, cp.root)) {
          throw new CheckError("rollback", "FORK: this site's signed log of tree size " +
            cp.size + " differs from the one of the same size this browser verified here " +
            "before. Two different logs were signed: report it to the clerk.");
        }
      } else {
        const proof = await reader.consistency(seen.size);
        if (!(await verifyConsistency(seen.size, cp.size, old, cp.root, proof))) {
          throw new CheckError("rollback", "FORK: this site's signed log of tree size " +
            cp.size + " does not extend the log of tree size " + seen.size + " this browser " +
            "verified here before (no consistency proof from the tiles). Report it to the clerk.");
        }
        said = "extends tree size " + seen.size + " verified here before (consistency proof from the tiles)";
      }
    }
    try {
      memory.set(cp.origin, { size: cp.size, root: hex(cp.root) });
    } catch (e) {
      // storage full or disabled: the check stands, the next visit compares with less
    }
    return said;
  }

  // -- entries (docs/FORMAT.md §2, §4) ---------------------------------------------------------

  const wellFormed = (s) => (typeof s.isWellFormed === "function" ? s.isWellFormed()
    : !/[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/.test(s));

  // Canonical JSON (docs/FORMAT.md §2): sorted ASCII keys, integers only, JSON.stringify's
  // string escapes (which are the canonical ones), no lone surrogates.
  function canonical(v) {
    if (v === null || v === true || v === false) return String(v);
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new CheckError("entry", "not an integer");
      return String(v);
    }
    if (typeof v === "string") {
      if (!wellFormed(v)) throw new CheckError("entry", "lone surrogate in a string");
      return JSON.stringify(v);
    }
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    const keys = Object.keys(v);
    for (const k of keys) if (!/^[\x00-\x7f]*$/.test(k)) throw new CheckError("entry", "non-ASCII key");
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }

  function parseEntry(raw, seq) {
    const text = utf8(raw, "entry");
    let obj;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new CheckError("entry", "the entry is not JSON");
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj) || canonical(obj) !== text) {
      throw new CheckError("entry", "the entry is not canonical JSON");
    }
    if (obj.v !== 1) throw new CheckError("entry", "unknown entry format version");
    if (obj.seq !== seq) throw new CheckError("entry", "the entry at position " + seq + " says it is " + obj.seq);
    if (obj.type !== "document") throw new CheckError("entry", "the entry is not a document");
    for (const f of ["doc", "title", "issuer", "sha256", "signer", "sig", "recorded"]) {
      if (typeof obj[f] !== "string") throw new CheckError("entry", "the entry has no " + f);
    }
    const sig = b64decode(obj.sig, "entry signature");
    if (sig.length !== 64) throw new CheckError("entry", "entry signature is not 64 bytes");
    const body = Object.assign({}, obj);
    delete body.sig;
    return { obj, sig, message: cat(CONTEXT, enc.encode(canonical(body))) };
  }

  // -- the whole check ------------------------------------------------------------------------

  // options: fetchBytes(path, limit) -> Uint8Array | null; keys: parsed trusted keys; origin;
  // Returns {verdict, checks[], doc?, release?, next?}.
  async function verifyFile(fileBytes, options) {
    const checks = [];
    const pass = (check, text) => checks.push({ check, ok: true, text });
    const result = (verdict, extra) => Object.assign({ verdict, checks }, extra || {});
    const { fetchBytes, keys, origin } = options;
    const digest = hex(await sha256(fileBytes));
    pass("sha256", "SHA-256 of the file: " + digest);
    // Nothing could be checked (no Ed25519, a file the site does not serve, a network
    // error): CANNOT CHECK, which is neither OFFICIAL nor a finding that the file is not.
    const unchecked = (err) => err instanceof CheckError &&
      (err.check === "environment" || err.check === "missing" || err.check === "fetch");
    let cp;
    let release = null;
    let reader;
    try {
      const checkpointBytes = await must(fetchBytes, "checkpoint", LIMITS.note, "checkpoint");
      cp = await verifiedCheckpoint(checkpointBytes, keys, origin, "the checkpoint");
      pass("checkpoint", "signed checkpoint verified: tree size " + cp.size + ", signed by " +
        cp.key.name + "+" + cp.key.idHex);
      reader = tileReader(fetchBytes, cp.size);
      const extended = await compareRemembered(options.memory, cp, reader);
      if (extended) pass("history", extended);
      // The release: the one a latest checkpoint names (orderarchive.release N), or the
      // checkpoint itself when the site publishes a release (releases/<size> holds its bytes).
      if (cp.release !== null) {
        release = await verifiedCheckpoint(await must(fetchBytes, "releases/" + cp.release,
          LIMITS.note, "release"), keys, origin, "release " + cp.release);
        if (release.size !== cp.release || release.size > cp.size) {
          throw new CheckError("release", "release " + cp.release + " does not hold a checkpoint of its size");
        }
        pass("release", "signed release " + release.size + " verified (named in the checkpoint)");
      } else {
        const own = await fetchBytes("releases/" + cp.size, LIMITS.note);
        if (own !== null && equal(own, checkpointBytes)) {
          release = cp;
          pass("release", "the checkpoint is signed release " + cp.size);
        }
      }
    } catch (err) {
      if (!(err instanceof CheckError)) throw err;
      checks.push({ check: err.check, ok: false, text: err.message });
      const verdict = err.check === "rollback" ? "rollback" : unchecked(err) ? "cannot-check" : "not-official";
      return result(verdict, { sha256: digest, reason: err.message });
    }
    let candidates;
    try {
      candidates = await lookup(fetchBytes, digest);
    } catch (err) {
      if (!(err instanceof CheckError)) throw err;
      checks.push({ check: err.check, ok: false, text: err.message });
      return result(unchecked(err) ? "cannot-check" : "not-official", { sha256: digest, reason: err.message });
    }
    if (candidates.length === 0) {
      return result("unknown", {
        sha256: digest,
        next: "No document in the published log of " + origin + " has this file's SHA-256. " +
          "If it is a copy (re-saved, converted, printed to PDF, retyped), check its text " +
          "against the signed text with the command line: " +
          "orderarchive check --archive <this site's URL> FILE",
      });
    }
    try {
      let lastError = null;
      for (const cand of candidates) {
        try {
          const seq = cand.seq;
          if (!Number.isSafeInteger(seq) || seq < 0 || seq >= cp.size) {
            throw new CheckError("entry", "the lookup names entry " + seq + ", outside the signed tree");
          }
          const raw = await reader.entry(seq);
          const e = parseEntry(raw, seq);
          if (e.obj.sha256 !== digest) {
            throw new CheckError("entry", "entry " + seq + " is for another file");
          }
          const key = keys.find((k) => e.obj.signer === k.name + "+" + k.idHex);
          if (!key || key.name !== origin) {
            throw new CheckError("signature", "entry " + seq + " is not signed by the log's trusted key");
          }
          if (!(await ed25519Verify(key.pub, e.sig, e.message))) {
            throw new CheckError("signature", "the signature of entry " + seq + " does not verify");
          }
          const local = [{ check: "entry", ok: true, text: "entry " + seq + " names this SHA-256: " +
            e.obj.doc }, { check: "signature", ok: true, text: "entry signature verified (" +
            key.name + "+" + key.idHex + ")" }];
          const leaf = await sha256(cat(Uint8Array.of(0), raw));
          if (!equal(leaf, await reader.leafFromTile(seq))) {
            throw new CheckError("inclusion", "the hash tile does not hold this entry's leaf hash");
          }
          const root = await rootFromInclusionProof(leaf, seq, cp.size, await reader.path(seq, 0, cp.size));
          if (!equal(root, cp.root)) {
            throw new CheckError("inclusion", "the inclusion proof from the tiles does not lead to the signed checkpoint's root");
          }
          local.push({ check: "inclusion", ok: true, text: "inclusion proof from the tiles " +
            "leads to the signed root of tree size " + cp.size });
          const released = release !== null && seq < release.size;
          if (released && release !== cp) {
            const rroot = await rootFromInclusionProof(leaf, seq, release.size,
              await reader.path(seq, 0, release.size));
            if (!equal(rroot, release.root)) {
              throw new CheckError("inclusion", "the inclusion proof does not lead to release " + release.size + "'s signed root");
            }
            local.push({ check: "release", ok: true, text: "inclusion proof leads to the " +
              "signed root of release " + release.size });
          }
          checks.push(...local);
          const doc = { doc: e.obj.doc, title: e.obj.title, issuer: e.obj.issuer,
            issued: e.obj.issued || null, kind: e.obj.kind, seq, recorded: e.obj.recorded };
          if (!released) {
            return result("unreleased", { sha256: digest, doc,
              next: "The file is recorded in the log but not yet covered by a signed release: " +
                "it is not yet official. Check again after the clerk's next release." });
          }
          return result("official", { sha256: digest, doc, release: release.size });
        } catch (err) {
          if (!(err instanceof CheckError) || unchecked(err)) throw err;
          lastError = err;
        }
      }
      checks.push({ check: lastError.check, ok: false, text: lastError.message });
      return result("not-official", { sha256: digest, reason: lastError.message });
    } catch (err) {
      if (!(err instanceof CheckError)) throw err;
      checks.push({ check: err.check, ok: false, text: err.message });
      return result(unchecked(err) ? "cannot-check" : "not-official", { sha256: digest, reason: err.message });
    }
  }

  // lookup/sha256/<2>/<62> holds "<seq>" LF: where an entry naming this hash is (unverified:
  // the entry found there is checked; a wrong lookup can only fail the check).
  async function lookup(fetchBytes, digest) {
    const data = await fetchBytes("lookup/sha256/" + digest.slice(0, 2) + "/" + digest.slice(2), 64);
    if (data === null) return [];
    const m = /^(0|[1-9][0-9]{0,15})\n$/.exec(utf8(data, "lookup"));
    if (!m) throw new CheckError("lookup", "the site's lookup for this hash is malformed");
    return [{ seq: Number(m[1]) }];
  }

  async function must(fetchBytes, path, limit, what) {
    const data = await fetchBytes(path, limit);
    if (data === null) throw new CheckError("missing", what + " (" + path + ") is missing from the site");
    return data;
  }

  // RFC 8032 §7.1 test 1: Ed25519 in this browser's WebCrypto, or a clear "no".
  async function ed25519Available() {
    const h = (s) => Uint8Array.from(s.match(/../g), (x) => parseInt(x, 16));
    const pub = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const sig = h("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    try {
      return (await ed25519Verify(pub, sig, new Uint8Array(0))) === true;
    } catch (e) {
      return false;
    }
  }

  return {
    CheckError, LIMITS, sha256, hex, b64decode, parseVkey, parseNote, openNote, parseCheckpoint,
    tileIndex, tilePath, bundlePath, parseBundle, tileReader, rootFromInclusionProof,
    verifyConsistency, compareRemembered, canonical, parseEntry, verifyFile, ed25519Available,
    keyId,
  };
})();

if (typeof module === "object" && module.exports) {
  module.exports = OA;
} else if (typeof document !== "undefined") {
  (() => {
    const $ = (id) => document.getElementById(id);
    // Shown inside another page (a frame), this page's verdict could be covered, cropped or
    // restyled by the page around it, and clicks steered (clickjacking): it refuses to check
    // anything there. The nginx block forbids framing (frame-ancestors 'none'); this holds
    // where the site or a mirror is served without that header.
    let framed = true;
    try { framed = window.top !== window.self; } catch (e) { framed = true; }
    if (framed) {
      const v = $("verdict");
      v.className = "verdict cannot";
      v.textContent = "REFUSED: this page is shown inside another page (a frame), which could " +
        "cover or change what it says. Open verify.html on its own to check a file.";
      $("trust").textContent = "No key is used in a frame: nothing is checked here.";
      $("file").disabled = true;
      $("pin").disabled = true;
      return;
    }
    const PIN_KEY = "orderarchive.pinned-key";
    // The largest verified checkpoint per log origin ({size, root}), kept in localStorage.
    const SEEN_KEY = "orderarchive.seen-checkpoint:";
    const memory = {
      get: (origin) => JSON.parse(localStorage.getItem(SEEN_KEY + origin) || "null"),
      set: (origin, seen) => localStorage.setItem(SEEN_KEY + origin, JSON.stringify(seen)),
    };
    const state = { origin: null, published: [], ready: null };

    // Fetch a site file with a size and time bound; null for 404.
    async function fetchBytes(path, limit) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 30000);
      try {
        const r = await fetch(path, { cache: "no-cache", signal: ctl.signal });
        if (r.status === 404) return null;
        if (!r.ok) throw new OA.CheckError("fetch", path + ": HTTP " + r.status);
        const len = Number(r.headers.get("content-length") || "0");
        if (len > limit) throw new OA.CheckError("fetch", path + " is larger than " + limit + " bytes");
        const data = new Uint8Array(await r.arrayBuffer());
        if (data.length > limit) throw new OA.CheckError("fetch", path + " is larger than " + limit + " bytes");
        return data;
      } catch (e) {
        if (e instanceof OA.CheckError) throw e;
        throw new OA.CheckError("fetch", "cannot fetch " + path + ": " + e.message);
      } finally {
        clearTimeout(timer);
      }
    }
    async function fetchJson(path) {
      const data = await fetchBytes(path, OA.LIMITS.json);
      if (data === null) throw new Error(path + " is missing from the site");
      return JSON.parse(new TextDecoder().decode(data));
    }

    function say(kind, headline) {
      const v = $("verdict");
      v.className = "verdict " + kind;
      v.textContent = headline;
    }
    function list(items) {
      const ul = $("checks");
      ul.replaceChildren();
      for (const c of items) {
        const li = document.createElement("li");
        li.className = c.ok ? "pass" : "fail";
        li.textContent = c.text;
        ul.appendChild(li);
      }
    }

    async function trustedKeys() {
      const pinned = localStorage.getItem(PIN_KEY);
      if (pinned) {
        const k = await OA.parseVkey(pinned);
        if (k.name !== state.origin) throw new OA.CheckError("key", "the pinned key is for " + k.name + ", not this log (" + state.origin + ")");
        $("trust").textContent = "Trusting the key you pinned: " + k.name + "+" + k.idHex +
          ". The key published on this site is not used. This page's code still comes from " +
          "this site: for a check that does not depend on it, use the command line.";
        return [k];
      }
      const keys = [];
      for (const t of state.published) keys.push(await OA.parseVkey(t));
      $("trust").textContent = "Trusting the key published on this site beside the log (" +
        keys.map((k) => k.name + "+" + k.idHex).join(", ") + "). Whoever controls this site " +
        "could replace both the log and this key; to rule that out, pin the key you got from " +
        "the clerk another way (below), or check with the command line and your own copy of the key.";
      return keys;
    }

    async function setup() {
      const env = [];
      if (!window.isSecureContext) env.push("This page is not in a secure context (it needs https, or http://localhost): the browser withholds WebCrypto, so nothing can be checked here.");
      else if (!window.crypto || !window.crypto.subtle) env.push("This browser has no WebCrypto: nothing can be checked here.");
      else if (!(await OA.ed25519Available())) env.push("This browser lacks Ed25519 in WebCrypto (Chrome/Edge 137+, Firefox 129+, Safari 17+ have it): signatures cannot be checked here. Use a current browser or the command line (orderarchive check).");
      if (env.length) {
        $("environment").textContent = env.join(" ");
        $("trust").textContent = "No key is used: nothing can be checked in this browser.";
        say("cannot", "CANNOT CHECK HERE: " + env[0]);
        throw new Error(env[0]);
      }
      const trust = await fetchJson("trust.json");
      state.origin = trust.origin;
      state.published = trust.verifiers || [];
      await trustedKeys();
      const pinned = localStorage.getItem(PIN_KEY);
      if (pinned) $("pin").value = pinned;
    }

    async function check(file) {
      say("", "checking " + file.name + " …");
      list([]);
      $("next").textContent = "";
      try {
        await state.ready;
        const keys = await trustedKeys();
        const bytes = new Uint8Array(await file.arrayBuffer());
        const r = await OA.verifyFile(bytes, { fetchBytes, keys, origin: state.origin, memory });
        list(r.checks);
        if (r.verdict === "official") {
          say("official", "OFFICIAL: " + r.doc.title + " (" + r.doc.doc + "), covered by signed release " + r.release + " of " + state.origin);
          // Whether it is still in force depends on later acts, which this check does not read.
          const next = $("next");
          next.textContent = "This check says the file is the one the clerk signed; it does not say whether the document is still in force. ";
          if (/^[a-z0-9][a-z0-9._-]{0,127}$/.test(r.doc.doc)) {
            const a = document.createElement("a");
            a.href = "doc/" + r.doc.doc + ".html";
            a.textContent = "Its page shows its status, the acts that amend or rescind it, and a citation.";
            next.appendChild(a);
          }
        } else if (r.verdict === "unknown") {
          say("not-official", "NOT OFFICIAL: this file is not in the signed log (" + file.name + ")");
          $("next").textContent = r.next;
        } else if (r.verdict === "unreleased") {
          say("cannot", "NOT OFFICIAL YET: " + r.doc.title + " (" + r.doc.doc + ") is recorded but not in a signed release");
          $("next").textContent = r.next;
        } else if (r.verdict === "rollback") {
          say("not-official", "REFUSED: " + r.reason);
          $("next").textContent = "This browser remembers the largest signed log it verified for " +
            state.origin + " on this site, so that an older or altered log cannot be passed off later.";
        } else if (r.verdict === "cannot-check") {
          say("cannot", "CANNOT CHECK: " + r.reason);
        } else {
          say("not-official", "NOT OFFICIAL: " + r.reason);
        }
      } catch (e) {
        say("cannot", "CANNOT CHECK: " + (e && e.message ? e.message : String(e)));
      }
    }

    state.ready = setup();
    state.ready.then(() => { if ($("verdict").textContent === "waiting") say("", "waiting for a file"); },
      (e) => { if (!$("verdict").className.includes("cannot")) say("cannot", "CANNOT CHECK HERE: " + e.message); });
    $("file").addEventListener("change", (ev) => { if (ev.target.files[0]) check(ev.target.files[0]); });
    const drop = $("drop");
    drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      const f = ev.dataTransfer && ev.dataTransfer.files[0];
      if (f) check(f);
    });
    $("pin-save").addEventListener("click", async () => {
      try {
        const k = await OA.parseVkey($("pin").value);
        if (state.origin && k.name !== state.origin) throw new Error("that key is for " + k.name + ", not " + state.origin);
        localStorage.setItem(PIN_KEY, k.text);
        await trustedKeys();
      } catch (e) {
        $("trust").textContent = "Not pinned: " + e.message;
      }
    });
    $("pin-clear").addEventListener("click", async () => {
      localStorage.removeItem(PIN_KEY);
      $("pin").value = "";
      await trustedKeys();
    });
  })();
}
