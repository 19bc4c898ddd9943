// What a buyer meets when things go wrong, in a real browser: a declined
// payment, a download link that expired, a download link that is used
// up. Each page must say what happened and what to do, and the way out
// it offers must work. The products use the test flows in flows/
// (links of 3 s, and links of one download).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { check, creatorToken, need, product, randomFile, run, sha256 } from "./lib.mjs";

const password = "correct horse battery staple";

// A guest buys `id` through the pages and the sandbox, pressing `button`.
async function buy(page, base, id, email, button) {
  await page.goto(`${base}/p/${id}`);
  await page.getByLabel("Your email").fill(email);
  await page.getByRole("button", { name: /^Buy/ }).click();
  await page.waitForURL(/\/sandbox\/checkout\//);
  await page.getByRole("button", { name: button === "pay" ? /^Pay/ : "Decline" }).click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  return page.url().split("/").pop();
}

// The download link in the newest email to `to` (quoted-printable).
function linkFromEmail(dataDir, to) {
  const dir = path.join(dataDir, "mail");
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const f of files) {
    const raw = fs.readFileSync(f, "utf8");
    if (!raw.includes(to)) continue;
    const text = raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g,
      (_, h) => String.fromCharCode(parseInt(h, 16)));
    const m = text.match(/https?:\/\/[^\s"<>]+\/d\/[A-Za-z0-9_-]+/);
    if (m) return m[0];
  }
  return null;
}

async function until(what, cond, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

await run("failure_paths", {
  SOUK_FLOWS_DIRECTORY: need("SOUK_TEST_FLOWS"),
  // Every request counts: no grace for a repeated click.
  SOUK_DELIVERY_REPEAT_WINDOW: "0s",
}, async ({ souk, browser, rec }) => {
  const base = souk.url;
  const stamp = Date.now();
  const token = await creatorToken(base, `maker${stamp}@example.com`, password);
  const bytes = randomFile(200 * 1024 + 3);
  const shortLinks = await product(base, token, "short_link", bytes, "Field recordings");
  const oneDownload = await product(base, token, "one_download", bytes, "Sample pack");

  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = await ctx.newPage();
  rec.watch(page, "buyer");

  // --- a declined payment: the order page says so, and "Try again" leads
  // back to the product.
  const declined = await buy(page, base, shortLinks, `declined${stamp}@example.com`, "decline");
  await page.locator("h1", { hasText: "Payment declined" }).waitFor({ timeout: 20000 });
  check((await page.locator("#order-message").textContent()).includes("not been charged"),
        "a declined payment says nobody was charged");
  await rec.shot(page, "payment-declined");
  await page.getByRole("link", { name: "Try again" }).click();
  await page.waitForURL(new RegExp(`/p/${shortLinks}$`));
  check(declined.length > 0, "the declined order has a page");

  // --- an expired link: the email's link outlives its 3 s; the page says
  // so and sends fresh links to the order's email, which work.
  const buyerA = `late${stamp}@example.com`;
  const orderA = await buy(page, base, shortLinks, buyerA, "pay");
  await page.locator("h1", { hasText: "Your files are ready" }).waitFor({ timeout: 30000 });
  const first = await until("the receipt email", () => linkFromEmail(souk.dataDir, buyerA));
  await new Promise((res) => setTimeout(res, 3500));
  const gone = await page.goto(first);
  check(gone.status() === 410, `an expired link answers 410 (${gone.status()})`);
  await page.locator("h1", { hasText: "This download link has expired" }).waitFor();
  check((await page.locator("#link-detail").textContent()).includes("fresh link"),
        "the expired page says what to do");
  check(await page.getByRole("link", { name: "Open your order" }).getAttribute("href")
        === `/orders/${orderA}`, "the expired page leads to the order");
  await rec.shot(page, "link-expired");
  await page.getByLabel("The email you bought with").fill(buyerA);
  await page.getByRole("button", { name: "Email me fresh links" }).click();
  await page.locator("h1", { hasText: "Check your email" }).waitFor();
  await rec.shot(page, "fresh-links-sent");
  const fresh = await until("the fresh link email",
    () => { const l = linkFromEmail(souk.dataDir, buyerA); return l !== first && l; });
  const got = await (await fetch(fresh)).arrayBuffer();
  check(sha256(Buffer.from(got)) === sha256(bytes), "the fresh link downloads the file");

  // --- a used-up link: one download allowed; the second click on the
  // order page meets the used-up page.
  const orderB = await buy(page, base, oneDownload, `keen${stamp}@example.com`, "pay");
  await page.locator("h1", { hasText: "Your files are ready" }).waitFor({ timeout: 30000 });
  check((await page.locator(".remaining").first().textContent()).includes("1 of 1 download left"),
        "one download is offered");
  const [dl] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: /^Download/ }).click(),
  ]);
  const saved = path.join(os.tmpdir(), `failure-paths-${stamp}`);
  await dl.saveAs(saved);
  check(sha256(fs.readFileSync(saved)) === sha256(bytes), "the one download is the file");
  await page.goto(`${base}/orders/${orderB}`);
  check((await page.locator(".unavailable").textContent()).includes("No downloads left"),
        "the order page says no downloads are left");
  await rec.shot(page, "order-used-up");
  // The link from the email (replaced by the page's) and the page's own
  // link, now used up, each say what happened.
  const used = await page.goto(linkFromEmail(souk.dataDir, `keen${stamp}@example.com`));
  check(used.status() === 410, "an old link answers 410");
  await page.locator("h1", { hasText: "This download link was replaced" }).waitFor();
  await rec.shot(page, "link-replaced");
  await page.goto(`${base}/orders/${orderB}`);
  await page.evaluate(() => document.querySelector(".unavailable") !== null);
  const cookieLink = (await ctx.cookies()).find((c) => c.name === "souk_links");
  check(cookieLink, "the page kept the link it issued");
  const again = await page.goto(`${base}/d/${cookieLink.value.split(":")[1]}`);
  check(again.status() === 410, `a used-up link answers 410 (${again.status()})`);
  await page.locator("h1", { hasText: "This download link is used up" }).waitFor();
  check((await page.locator("#link-detail").textContent()).includes("re-issue"),
        "the used-up page says who can help");
  await rec.shot(page, "link-used-up");
  await rec.phone(browser, `${base}/orders/${orderB}`, "order-used-up", await ctx.storageState());

  // --- a buyer who opens the order page before paying: it waits, and
  // follows the order by itself (a long poll) once the payment arrives.
  const gateway = await ctx.newPage();
  rec.watch(gateway, "gateway");
  await gateway.goto(`${base}/p/${shortLinks}`);
  await gateway.getByLabel("Your email").fill(`early${stamp}@example.com`);
  await gateway.getByRole("button", { name: /^Buy/ }).click();
  await gateway.waitForURL(/\/sandbox\/checkout\//);
  // The order's cookie is scoped to its page: /orders/<id>.
  const orderCookie = (await ctx.cookies()).filter((c) => c.name === "souk_order")
    .map((c) => c.path.split("/").pop()).find((id) => id !== declined && id !== orderA
                                               && id !== orderB);
  check(orderCookie, "the checkout set the new order's cookie");
  await page.goto(`${base}/orders/${orderCookie}`);
  await page.locator("h1", { hasText: "Waiting for your payment" }).waitFor();
  await rec.shot(page, "order-waiting");
  await gateway.getByRole("button", { name: /^Pay/ }).click();
  await page.locator("h1", { hasText: "Your files are ready" }).waitFor({ timeout: 30000 });
  check(page.url() === `${base}/orders/${orderCookie}`, "the waiting page updated itself");
});
