// orderarchive: filters the document list with the static search index (search-index.json).
// No server code, no third-party script. Text is set with textContent, never as HTML.
"use strict";
(function () {
  const input = document.getElementById("q");
  const count = document.getElementById("count");
  const rows = Array.from(document.querySelectorAll("#documents tbody tr"));
  if (!input) return;
  let docs = null;
  fetch("search-index.json", { cache: "no-cache" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then((index) => {
      docs = new Map();
      for (const d of index.documents || []) {
        const hay = [d.doc, d.title, d.issuer, d.kind, d.issued || "", d.status, d.sha256]
          .join(" ").toLowerCase();
        docs.set(String(d.seq), hay);
      }
      filter();
    })
    .catch((e) => { count.textContent = "search unavailable: " + e.message; });
  function filter() {
    if (!docs) return;
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const hay = docs.get(row.dataset.seq) || "";
      const hit = words.every((w) => hay.includes(w));
      row.hidden = !hit;
      if (hit) shown++;
    }
    count.textContent = words.length ? shown + " of " + rows.length + " documents" : "";
  }
  input.addEventListener("input", filter);

  // Full-text search in the documents' words: the published text index (docs/FORMAT.md, the
  // published text index) is split into shards by SHA-256 of each term; a query reads only
  // the shards its words fall in (at most MAX_TERMS words, MAX_SHARD bytes each). The table's
  // filter above is unchanged; the documents whose text holds every word are listed below it.
  // A hint for finding documents, not a proof: the verify page checks files, not this.
  const MAX_TERMS = 8;
  const MAX_SHARD = 1 << 20;
  const textCount = document.getElementById("text-count");
  const textHits = document.getElementById("text-hits");
  let meta = null;
  const shards = new Map();
  let generation = 0;
  const termsOf = (text) => Array.from(new Set(
    (text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\u00df/g, "ss")
      .match(/[\p{L}\p{N}]+/gu) || [])));
  async function bytesOf(path, limit) {
    const r = await fetch(path, { cache: "no-cache" });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    const data = new Uint8Array(await r.arrayBuffer());
    if (data.length > limit) throw new Error(path + " is larger than " + limit + " bytes");
    return data;
  }
  async function shardOf(term, count) {
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(term)));
    return ((h[0] * 16777216) + (h[1] << 16) + (h[2] << 8) + h[3]) % count;
  }
  async function shard(n) {
    if (!shards.has(n)) {
      shards.set(n, bytesOf(meta.dir + "/" + n, MAX_SHARD).then((data) => {
        const terms = new Map();
        const text = data === null ? "" : new TextDecoder().decode(data);
        for (const line of text.split("\n")) {
          const f = line.split(" ");
          if (f.length >= 2) terms.set(f[0], { df: Number(f[1]), seqs: f.slice(2) });
        }
        return terms;
      }));
    }
    return shards.get(n);
  }
  async function textSearch(index) {
    const mine = ++generation;
    const terms = termsOf(input.value).slice(0, MAX_TERMS);
    textHits.replaceChildren();
    textCount.textContent = "";
    if (!terms.length || !meta) return;
    if (!window.crypto || !crypto.subtle) {
      textCount.textContent = "Searching the documents' text needs a secure context (https).";
      return;
    }
    let hits = null;
    const common = [];
    for (const term of terms) {
      const entry = (await shard(await shardOf(term, meta.shards))).get(term);
      if (mine !== generation) return;
      if (!entry) { hits = new Set(); break; }
      if (!entry.seqs.length) { common.push(term); continue; }
      const seqs = new Set(entry.seqs);
      hits = hits === null ? seqs : new Set([...hits].filter((s) => seqs.has(s)));
    }
    if (hits === null) {
      textCount.textContent = "Too common to search in the text: " + common.join(", ");
      return;
    }
    const found = index.documents.filter((d) => hits.has(String(d.seq)));
    textCount.textContent = "In the text: " + found.length + " document" +
      (found.length === 1 ? "" : "s") + " hold" + (found.length === 1 ? "s" : "") + " " +
      (common.length ? "the other words (too common: " + common.join(", ") + ")" : "every word");
    for (const d of found) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      // Only a page of this site (a hostile search index cannot make a javascript: link).
      if (/^doc\/[a-z0-9][a-z0-9._-]{0,127}\.html$/.test(d.page)) a.href = d.page;
      a.textContent = d.title;
      const code = document.createElement("code");
      code.textContent = d.doc;
      li.append(a, " ", code);
      textHits.appendChild(li);
    }
  }
  fetch("search-index.json", { cache: "no-cache" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then(async (index) => {
      if (typeof index.text_index !== "string" || !/^lookup\/text\/[0-9]+$/.test(index.text_index)) return;
      const head = await bytesOf(index.text_index + "/index", 128);
      const lines = head === null ? [] : new TextDecoder().decode(head).split("\n");
      if (lines[0] !== "orderarchive-text-index/v1") return;
      meta = { dir: index.text_index, documents: Number(lines[1]), shards: Number(lines[2]) };
      let timer = null;
      const run = () => textSearch(index).catch((e) => {
        textCount.textContent = "text search unavailable: " + e.message;
      });
      input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 150); });
      if (input.value) run();
    })
    .catch(() => { /* the table's search reports it */ });
})();
