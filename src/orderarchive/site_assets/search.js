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
})();
