// A licence key bought in a real browser: a creator adds keys to a product
// on the shipped `licence_key` flow in its editor (a bad list is refused,
// saying which key); a guest buys it through the pages and the sandbox and
// the order page shows the key; the next buyer is told the product is sold
// out before paying anything.

import { check, creatorToken, run } from "./lib.mjs";

const password = "correct horse battery staple";

await run("licence", {}, async ({ souk, browser, rec }) => {
  const base = souk.url;
  const stamp = Date.now();
  const token = await creatorToken(base, `keys${stamp}@example.com`, password);
  const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  let r = await fetch(`${base}/api/v1/products`, {
    method: "POST", headers: auth,
    body: JSON.stringify({ title: "Pixel Editor", description: "An app, for the browser tests.",
                           price: { amount: 150000, currency: "NGN" }, flow: "licence_key" }),
  });
  check(r.status === 201, `product created (${r.status})`);
  const id = (await r.json()).id;
  const key = `PXL-${stamp}-ABCD`;

  // The creator adds the key in the product's editor.
  const editor = await (await browser.newContext()).newPage();
  rec.watch(editor, "creator");
  await editor.goto(`${base}/login`);
  await editor.getByLabel("Email").fill(`keys${stamp}@example.com`);
  await editor.getByLabel("Password").fill(password);
  await editor.getByRole("button", { name: "Sign in", exact: true }).click();
  await editor.waitForURL(/\/dashboard/);
  await editor.goto(`${base}/dashboard/products/${id}`);
  check(await editor.locator("#no-keys").isVisible(), "the editor says there are no keys yet");
  await editor.getByLabel("Add licence keys").fill(`GOOD-KEY\n\nBAD\u0007KEY\n`);
  await editor.getByRole("button", { name: "Add keys" }).click();
  await editor.locator("#keys-status").filter({ hasText: "line 3" }).waitFor();
  check(/the key on line 3 contains a control character/.test(
          await editor.locator("#keys-status").innerText()),
        "a bad key is refused, naming its line");
  await editor.getByLabel("Add licence keys").fill(`  ${key}  \r\n\n`);
  await editor.getByRole("button", { name: "Add keys" }).click();
  await editor.waitForURL(/notice=keys_added/);
  const row = editor.locator("#licence-stock tbody tr");
  check((await row.count()) === 1, "one pool");
  check((await row.locator("td").nth(1).innerText()).trim() === "1", "one key left");
  await rec.shot(editor, "editor-licence-keys");
  // The same key again adds nothing, and the page says so.
  await editor.getByLabel("Add licence keys").fill(key);
  await editor.getByRole("button", { name: "Add keys" }).click();
  await editor.waitForURL(/notice=keys_present/);
  check((await row.locator("td").nth(1).innerText()).trim() === "1", "still one key left");
  await editor.getByRole("button", { name: "Publish", exact: true }).click();
  await editor.waitForURL(/notice=published/);

  const page = await (await browser.newContext()).newPage();
  rec.watch(page, "buyer");
  await page.goto(`${base}/p/${id}`);
  await page.getByLabel("Your email").fill(`first${stamp}@example.com`);
  await page.getByRole("button", { name: /^Buy/ }).click();
  await page.waitForURL(/\/sandbox\/checkout\//);
  await page.getByRole("button", { name: /^Pay/ }).click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  // The page follows the order until the key is there.
  const shown = page.locator("code.licence-key");
  await shown.waitFor({ timeout: 20000 });
  check((await shown.textContent()).trim() === key, "the order page shows the key");
  check(await page.getByRole("heading", { name: "Your licence key is ready" }).isVisible(),
        "the page says a key, not files, is ready");
  await rec.shot(page, "order-licence-key");

  // The only key is gone: the next buyer learns it before paying.
  const late = await (await browser.newContext()).newPage();
  rec.watch(late, "late buyer");
  await late.goto(`${base}/p/${id}`);
  await late.getByLabel("Your email").fill(`late${stamp}@example.com`);
  await late.getByRole("button", { name: /^Buy/ }).click();
  await late.waitForLoadState();
  check(!/\/sandbox\/checkout\//.test(late.url()), "no payment page for a sold-out product");
  check(/sold out/i.test(await late.locator("main").innerText()), "the page says sold out");
  await rec.shot(late, "sold-out");
});
