// A licence key bought in a real browser: a creator makes a product on the
// shipped `licence_key` flow in the editor (its Delivery choice) and adds
// keys to it there (a bad list is refused, saying which key); a guest buys
// it through the pages and the sandbox and the order page shows the key;
// a buyer who opened the page before the last key went is told it is sold
// out without paying, and the page says so to later visitors before they
// try. A product on sale moves to licence keys only once it has some: the
// editor says where to add them and keeps the choice.

import { check, creatorToken, product, randomFile, run } from "./lib.mjs";

const password = "correct horse battery staple";

await run("licence", {}, async ({ souk, browser, rec }) => {
  const base = souk.url;
  const stamp = Date.now();
  const token = await creatorToken(base, `keys${stamp}@example.com`, password);
  const auth = { Authorization: `Bearer ${token}` };
  const flowOf = async (id) =>
    (await (await fetch(`${base}/api/v1/products/${id}`, { headers: auth })).json()).flow;
  const key = `PXL-${stamp}-ABCD`;

  // The creator makes the product in the editor, choosing its delivery.
  const editor = await (await browser.newContext()).newPage();
  rec.watch(editor, "creator");
  await editor.goto(`${base}/login`);
  await editor.getByLabel("Email").fill(`keys${stamp}@example.com`);
  await editor.getByLabel("Password").fill(password);
  await editor.getByRole("button", { name: "Sign in", exact: true }).click();
  await editor.waitForURL(/\/dashboard/);
  await editor.goto(`${base}/dashboard/products/new`);
  await editor.getByLabel("Title").fill("Pixel Editor");
  await editor.getByLabel("Description").fill("An app, for the browser tests.");
  await editor.getByLabel("Price").fill("1500");
  const chosen = () => editor.locator("input[name=flow]:checked").inputValue();
  check(await chosen() === "digital_download", "a new product is a download unless chosen");
  await editor.getByRole("radio", { name: /^Licence key/ }).check();
  await editor.getByRole("button", { name: "Create product" }).click();
  await editor.waitForURL(/\/dashboard\/products\/[^/?]+\?notice=created/);
  const id = new URL(editor.url()).pathname.split("/").pop();
  check(await flowOf(id) === "licence_key", "the product is on the licence_key flow");
  check(await chosen() === "licence_key", "the editor shows its delivery");
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
  // The keys are listed; a key that leaked is withdrawn before anyone gets it.
  await editor.getByLabel("Add licence keys").fill(`LEAKED-${stamp}`);
  await editor.getByRole("button", { name: "Add keys" }).click();
  const listed = editor.locator("#keys-table tbody tr");
  await listed.nth(1).waitFor(); // the page again, with the new key
  check((await listed.count()) === 2, "both keys are listed");
  check((await row.locator("td").nth(1).innerText()).trim() === "2", "two keys left");
  editor.once("dialog", (d) => d.accept());
  await editor.getByRole("button", { name: `Withdraw LEAKED-${stamp}` }).click();
  await editor.waitForURL(/notice=key_withdrawn/);
  check((await listed.count()) === 1, "one key listed");
  check((await listed.first().innerText()).includes(key), "the good key stays");
  check((await row.locator("td").nth(1).innerText()).trim() === "1", "one key left");
  // The same key again adds nothing, and the page says so.
  await editor.getByLabel("Add licence keys").fill(key);
  await editor.getByRole("button", { name: "Add keys" }).click();
  await editor.waitForURL(/notice=keys_present/);
  check((await row.locator("td").nth(1).innerText()).trim() === "1", "still one key left");
  await editor.getByRole("button", { name: "Publish", exact: true }).click();
  await editor.waitForURL(/notice=published/);

  // A buyer opens the page while the one key is still there.
  const late = await (await browser.newContext()).newPage();
  rec.watch(late, "late buyer");
  await late.goto(`${base}/p/${id}`);
  await late.getByLabel("Your email").fill(`late${stamp}@example.com`);

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

  // The creator sees which order got it, and cannot withdraw it now.
  await editor.goto(`${base}/dashboard/products/${id}?keys=issued`);
  const issuedRow = editor.locator("#keys-table tbody tr");
  check((await issuedRow.count()) === 1, "one key issued");
  check(/issued/.test(await issuedRow.innerText()), "it says issued");
  check((await issuedRow.getByRole("button", { name: /^Withdraw/ }).count()) === 0,
        "an issued key has no withdraw button");
  await rec.shot(editor, "editor-issued-keys");

  // The only key is gone: the buyer who opened the page before learns it
  // before paying.
  await late.getByRole("button", { name: /^Buy/ }).click();
  await late.waitForLoadState();
  check(!/\/sandbox\/checkout\//.test(late.url()), "no payment page for a sold-out product");
  check(/sold out/i.test(await late.locator("#buy-error").innerText()),
        "the page says checkout refused it: sold out");
  await rec.shot(late, "sold-out");
  // A later visitor sees it before trying: no buy button at all.
  const next = await (await browser.newContext()).newPage();
  rec.watch(next, "next visitor");
  await next.goto(`${base}/p/${id}`);
  check(await next.getByRole("heading", { name: "Sold out" }).isVisible(), "the page says sold out first");
  check(/licence key of your own/.test(await next.locator("#gives-key").innerText()),
        "the page says what a buyer gets: a licence key");
  check(await next.getByRole("button", { name: /^Buy/ }).count() === 0, "and offers no buy button");
  await next.goto(`${base}/`);
  const card = next.locator("li.card").filter({ hasText: "Pixel Editor" });
  check(/Sold out/.test(await card.innerText()), "the shop's list says sold out too");
  await rec.shot(next, "sold-out-before");
  // The creator's dashboard says so too: the cue to add keys.
  await editor.goto(`${base}/dashboard`);
  const mine = editor.locator("#products tr").filter({ hasText: "Pixel Editor" });
  check(/sold out/.test(await mine.innerText()), "the dashboard marks it sold out");

  // A download on sale moves to licence keys only once it has some: the
  // editor says so, shows where to add them, and keeps the choice.
  const course = await product(base, token, "digital_download", randomFile(2048), "Pixel Course");
  await editor.goto(`${base}/dashboard/products/${course}`);
  check(await editor.locator("#add-keys").count() === 0, "a download's editor has no keys section");
  await editor.getByRole("radio", { name: /^Licence key/ }).check();
  await editor.getByRole("button", { name: "Save changes" }).click();
  await editor.locator("#flow-error").waitFor();
  check(/needs licence keys \(add them below\) first/.test(await editor.locator("#flow-error").innerText()),
        "the editor says to add keys first");
  check(await flowOf(course) === "digital_download", "the product did not move");
  await rec.shot(editor, "editor-move-refused");
  const many = Array.from({ length: 60 }, (_, i) => `CRS-${stamp}-${String(i).padStart(2, "0")}`);
  await editor.getByLabel("Add licence keys").fill(many.join("\n"));
  await editor.getByRole("button", { name: "Add keys" }).click();
  await editor.waitForURL(/notice=keys_added.*flow=licence_key/);
  check(await chosen() === "licence_key", "the choice is kept");
  await editor.getByRole("button", { name: "Save changes" }).click();
  await editor.waitForURL(/notice=saved/);
  check(await flowOf(course) === "licence_key", "the product moved to licence keys");
  // Its 60 keys are listed 50 at a time, in the order they were added.
  const keyRows = editor.locator("#keys-table tbody tr");
  check((await keyRows.count()) === 50, "50 keys on the first page");
  await editor.getByRole("link", { name: "More keys" }).click();
  await editor.waitForURL(/keys_cursor=/);
  check((await keyRows.count()) === 10, "10 on the next");
  check((await keyRows.last().innerText()).includes(many[59]), "the last key added comes last");
  check((await editor.getByRole("link", { name: "More keys" }).count()) === 0, "and no more");
});
