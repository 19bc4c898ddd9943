// What the browser tests share: a fresh embedded soukd of their own, an
// operator made with soukctl, Debian's Chromium driven by Playwright, and
// checks every page must pass (no console errors such as CSP refusals,
// no serious accessibility violations by axe-core, no sideways scrolling
// on a phone-width screen). Screenshots go to $SOUK_BROWSER_OUT/<test>/.

import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

export function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}

/// A soukd on a free port with its own data directory; `env` adds SOUK_*
/// settings. Resolves once it printed its URL.
export async function startSoukd(name, env = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `souk-browser-${name}-`));
  // soukd refuses SOUK_* variables it does not know: pass on only ours.
  const clean = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith("SOUK_")));
  const allEnv = { ...clean, SOUK_DATA_DIR: dataDir, SOUK_LISTEN: "127.0.0.1:0",
                   SOUK_LOG_LEVEL: "warn", ...env };
  const proc = spawn(need("SOUK_SOUKD"), [], { env: allEnv, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => { log += d; });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`soukd did not start:\n${out}\n${log}`)), 60000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/souk is running at (\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, "")); }
    });
    proc.on("exit", (code) => reject(new Error(`soukd exited with ${code}:\n${out}\n${log}`)));
  });
  return {
    url, dataDir, env: allEnv, proc,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      await new Promise((r) => proc.on("exit", r));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/// An operator account made the way an operator makes one: soukctl.
export function makeOperator(souk, email, password) {
  execFileSync(need("SOUK_SOUKCTL"), ["admin", "create", "--email", email, "--password-stdin"],
               { env: souk.env, input: password + "\n", stdio: ["pipe", "pipe", "pipe"] });
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.SOUK_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // As root (CI) Chromium needs --no-sandbox; the rest keep it from
    // reaching for Google's services on a closed network.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage"],
  });
}

/// Screenshots and page checks for one test.
export class Recorder {
  constructor(test) {
    this.dir = path.join(process.env.SOUK_BROWSER_OUT || path.join(here, "out"), test);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
    this.n = 0;
    this.problems = [];
  }

  /// Watches a page for console errors and failed page loads.
  watch(page, who) {
    this.pages = this.pages || [];
    this.pages.push([page, who]);
    page.on("console", (msg) => {
      if (msg.type() === "error" && !/status of 4\d\d|status of 410/.test(msg.text()))
        this.problems.push(`${who}: console error on ${page.url()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => this.problems.push(`${who}: script error on ${page.url()}: ${err}`));
  }

  /// A screenshot of the whole page, then the page's checks.
  async shot(page, name) {
    const file = path.join(this.dir, `${String(++this.n).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
    await this.checkPage(page, name);
  }

  async checkPage(page, name) {
    // axe-core, evaluated through the DevTools protocol (CSP does not apply).
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () =>
      // eslint-disable-next-line no-undef
      axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    for (const v of bad)
      this.problems.push(`${name}: accessibility: ${v.id} (${v.impact}): ${v.help} at ` +
                         v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; "));
    const csp = await page.evaluate(() => document.contentType);
    check(csp === "text/html", `${name} is HTML`);
  }

  /// The page fits a phone's width (no sideways scrolling), checked at
  /// 375 px and photographed.
  async phone(browser, url, name, storageState) {
    const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, storageState });
    const page = await ctx.newPage();
    this.watch(page, "phone");
    await page.goto(url);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (wide > 1) this.problems.push(`${name}: ${wide}px wider than a 375px phone screen`);
    await this.shot(page, `${name}-phone`);
    await ctx.close();
  }

  finish() {
    if (this.problems.length) {
      for (const p of this.problems) console.error(`PROBLEM ${p}`);
      throw new Error(`${this.problems.length} page problem(s)`);
    }
  }
}

/// A new creator account through the JSON API; its session token.
export async function creatorToken(base, email, password) {
  let r = await fetch(`${base}/api/v1/auth/signup`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, role: "creator" }) });
  check(r.status === 201, `creator signed up (${r.status})`);
  r = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }) });
  check(r.status === 200, `creator signed in (${r.status})`);
  return (await r.json()).token;
}

/// The creator's side, through the JSON API (the golden path covers the
/// pages): a published product on `flow` with one file; its id.
export async function product(base, token, flow, bytes, title) {
  const auth = { Authorization: `Bearer ${token}` };
  let r = await fetch(`${base}/api/v1/products`, {
    method: "POST", headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ title, description: `${title}, for the browser tests.`,
                           price: { amount: 150000, currency: "NGN" }, flow }),
  });
  check(r.status === 201, `product created (${r.status} ${await r.clone().text()})`);
  const id = (await r.json()).id;
  r = await fetch(`${base}/api/v1/products/${id}/files?name=${encodeURIComponent(title)}.zip`,
                  { method: "PUT", headers: auth, body: bytes });
  check(r.status === 201, `file uploaded (${r.status})`);
  r = await fetch(`${base}/api/v1/products/${id}/publish`, { method: "POST", headers: auth });
  check(r.status === 200, `product published (${r.status})`);
  return id;
}

export function randomFile(size) {
  return randomBytes(size);
}

/// Runs `body` with a fresh soukd and browser, cleaning up either way.
export async function run(test, env, body) {
  const souk = await startSoukd(test, env);
  const browser = await launch();
  const rec = new Recorder(test);
  let failed = false;
  try {
    await body({ souk, browser, rec });
    rec.finish();
    console.log(`${test}: passed`);
  } catch (err) {
    failed = true;
    console.error(err.stack || String(err));
    // What each browser showed when it failed.
    for (const [page, who] of rec.pages || []) {
      try {
        const file = path.join(rec.dir, `failure-${who}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.error(`failure screenshot ${file} (${page.url()})`);
      } catch { /* page closed */ }
    }
    console.error("--- soukd log ---\n" + souk.log().split("\n").slice(-60).join("\n"));
  } finally {
    await browser.close();
    await souk.stop();
  }
  process.exit(failed ? 1 : 0);
}
