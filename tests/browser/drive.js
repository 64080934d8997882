// Drives Debian's chromium (headless, through playwright-core; no browser download) against
// the verify page served by nginx. Cases come from OA_BROWSER_CASES (JSON list of
// {name, url, file, drop, screenshot, replace?: {from, to}}); prints one JSON result per case
// (cases share one browser profile, so localStorage persists between them). Run by
// tests/test_site_browser.py.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const FINAL = /^(OFFICIAL|NOT OFFICIAL|CANNOT CHECK|REFUSED)/;

// Browsers this machine does not have, simulated before the page's scripts run: one whose
// WebCrypto lacks Ed25519 (before early 2025), and a page that is not a secure context.
const INIT = {
  "no-ed25519": () => {
    const subtle = crypto.subtle;
    const importKey = subtle.importKey.bind(subtle);
    subtle.importKey = (format, key, alg, ...rest) =>
      ((alg && alg.name) || alg) === "Ed25519"
        ? Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"))
        : importKey(format, key, alg, ...rest);
  },
  "insecure": () => {
    Object.defineProperty(window, "isSecureContext", { get: () => false });
  },
};

async function search(page, c) {
  await page.goto(c.url);
  await page.waitForFunction(() => document.getElementById("count") !== null);
  await page.fill("#q", c.query);
  await page.waitForFunction(() => document.getElementById("count").textContent !== "");
  // The full-text part answers after the shards arrive.
  await page.waitForFunction(() => document.getElementById("text-count").textContent !== "",
    null, { timeout: 20000 });
  const r = await page.evaluate(() => ({
    count: document.getElementById("count").textContent,
    shown: Array.from(document.querySelectorAll("#documents tbody tr"))
      .filter((tr) => !tr.hidden).map((tr) => tr.querySelector("code").textContent),
    textCount: document.getElementById("text-count").textContent,
    textHits: Array.from(document.querySelectorAll("#text-hits li code"), (c) => c.textContent),
  }));
  if (c.screenshot) await page.screenshot({ path: c.screenshot, fullPage: true });
  return r;
}

async function run() {
  const cases = JSON.parse(process.env.OA_BROWSER_CASES);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "oa-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.OA_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1000, height: 760 },
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const results = [];
  try {
    for (const c of cases) {
      const page = await ctx.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
      if (c.kind === "framed") {
        // The verify page inside another page's iframe: its own words, read from the frame.
        await page.goto(c.url);
        const frame = await (await page.waitForSelector("iframe")).contentFrame();
        await frame.waitForFunction((re) => {
          const v = document.getElementById("verdict");
          return v && (new RegExp(re).test(v.textContent) || v.textContent === "waiting for a file");
        }, FINAL.source, { timeout: 20000 });
        const r = await frame.evaluate(() => ({
          verdict: document.getElementById("verdict").textContent,
          trust: document.getElementById("trust").textContent,
          fileDisabled: document.getElementById("file").disabled,
        }));
        if (c.screenshot) await page.screenshot({ path: c.screenshot, fullPage: true });
        results.push(Object.assign({ name: c.name, errors }, r));
        await page.close();
        continue;
      }
      if (c.kind === "search") {
        results.push(Object.assign({ name: c.name, errors }, await search(page, c)));
        await page.close();
        continue;
      }
      if (c.replace) {
        // The server's file changes between visits (a site rolled back): a distinct mtime, so
        // that nginx's validators change even within the same second.
        const before = fs.statSync(c.replace.to).mtime;
        fs.copyFileSync(c.replace.from, c.replace.to);
        const t = new Date(before.getTime() - 3600 * 1000);
        fs.utimesSync(c.replace.to, t, t);
      }
      if (c.init) await page.addInitScript(INIT[c.init]);
      await page.goto(c.url);
      await page.waitForFunction(() => {
        const v = document.getElementById("verdict");
        return v && (v.textContent === "waiting for a file" || v.className.includes("cannot"));
      }, null, { timeout: 20000 });
      if (c.pin) {
        await page.fill("#pin", c.pin);
        await page.click("#pin-save");
      }
      if (!c.file) {
        // nothing to drop: the page's own answer about this browser
      } else if (c.drop) {
        // A drop as a user makes it: a DataTransfer holding the File, dropped on the zone.
        const b64 = fs.readFileSync(c.file).toString("base64");
        await page.evaluate(([data, name]) => {
          const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], name));
          document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }, [b64, path.basename(c.file)]);
      } else {
        await page.setInputFiles("#file", c.file);
      }
      await page.waitForFunction((re) => new RegExp(re).test(
        document.getElementById("verdict").textContent), FINAL.source, { timeout: 20000 });
      const r = await page.evaluate(() => ({
        verdict: document.getElementById("verdict").textContent,
        verdictClass: document.getElementById("verdict").className,
        checks: Array.from(document.querySelectorAll("#checks li"),
          (li) => ({ ok: li.className === "pass", text: li.textContent })),
        next: document.getElementById("next").textContent,
        trust: document.getElementById("trust").textContent,
        environment: document.getElementById("environment").textContent,
        secure: window.isSecureContext,
      }));
      if (c.screenshot) await page.screenshot({ path: c.screenshot, fullPage: true });
      results.push(Object.assign({ name: c.name, errors }, r));
      await page.close();
    }
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

run().catch((e) => { console.error(e && e.stack ? e.stack : String(e)); process.exit(1); });
