// The golden path on a fresh embedded soukd, in a real browser: a creator
// signs up, creates a product and uploads a file (with the progress bar);
// a buyer signs up, buys it through the sandbox's hosted checkout page,
// follows the order live and downloads the file (bytes identical); the
// creator sees the sale and the pending balance; an operator sees the
// live actors, the flow diagrams and the order's timeline.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { check, makeOperator, randomFile, run, sha256 } from "./lib.mjs";

const password = "correct horse battery staple";

await run("golden_path", {}, async ({ souk, browser, rec }) => {
  const base = souk.url;
  const stamp = Date.now();
  const creatorEmail = `maker${stamp}@example.com`;
  const buyerEmail = `reader${stamp}@example.com`;
  const opEmail = `ops${stamp}@example.com`;
  makeOperator(souk, opEmail, password);

  // --- the creator
  const creatorCtx = await browser.newContext();
  const creator = await creatorCtx.newPage();
  rec.watch(creator, "creator");
  await creator.goto(base + "/");
  await rec.shot(creator, "shop-empty");
  await creator.getByRole("link", { name: "Sign up", exact: true }).click();
  await creator.getByLabel("Email").fill(creatorEmail);
  await creator.getByLabel("Password").fill(password);
  await creator.getByLabel("sell my products").check();
  await rec.shot(creator, "signup");
  await creator.getByRole("button", { name: "Create account", exact: true }).click();
  await creator.waitForURL(/\/dashboard\?notice=signed_up/);
  await rec.shot(creator, "dashboard-new");

  await creator.getByRole("link", { name: "New product" }).click();
  await creator.getByLabel("Title").fill("The Lagos Cookbook");
  await creator.getByLabel("Description").fill(
    "Forty recipes from the markets of Lagos.\n\nA PDF, 120 pages.");
  await creator.getByLabel("Price").fill("2500");
  await rec.shot(creator, "product-new");
  await creator.getByRole("button", { name: "Create product", exact: true }).click();
  await creator.waitForURL(/\/dashboard\/products\/[^/?]+\?notice=created/);
  const productUrl = creator.url().split("?")[0];
  const productId = productUrl.split("/").pop();

  // The file, uploaded through the progress-bar form straight to the API.
  const bytes = randomFile(3 * 1024 * 1024 + 17);
  const upload = path.join(os.tmpdir(), `lagos-cookbook-${stamp}.pdf`);
  fs.writeFileSync(upload, bytes);
  await creator.setInputFiles("#file", upload);
  await creator.getByRole("button", { name: "Upload", exact: true }).click();
  await creator.waitForURL(/notice=uploaded/);
  check((await creator.locator("#files").textContent()).includes(path.basename(upload)),
        "the uploaded file is listed");
  // A wrong upload, taken off again before anyone bought it.
  const wrong = path.join(os.tmpdir(), `wrong-${stamp}.txt`);
  fs.writeFileSync(wrong, "not the book");
  await creator.setInputFiles("#file", wrong);
  await creator.getByRole("button", { name: "Upload", exact: true }).click();
  // The page is reloaded with the same notice: wait for the list instead.
  await creator.locator("#files li", { hasText: path.basename(wrong) }).waitFor();
  creator.once("dialog", (d) => d.accept());
  await creator.getByRole("button", { name: `Remove ${path.basename(wrong)}` }).click();
  await creator.waitForURL(/notice=file_removed/);
  const listed = await creator.locator("#files").textContent();
  check(!listed.includes(path.basename(wrong)) && listed.includes(path.basename(upload)),
        "the wrong file is gone and the book stays");
  await rec.shot(creator, "file-removed");
  await creator.getByRole("button", { name: "Publish", exact: true }).click();
  await creator.waitForURL(/notice=published/);
  check((await creator.locator("#product-status").textContent()).trim() === "published",
        "the product is published");
  await rec.shot(creator, "product-published");

  // --- the buyer
  const buyerCtx = await browser.newContext({ acceptDownloads: true });
  const buyer = await buyerCtx.newPage();
  rec.watch(buyer, "buyer");
  await buyer.goto(base + "/signup");
  await buyer.getByLabel("Email").fill(buyerEmail);
  await buyer.getByLabel("Password").fill(password);
  await buyer.getByRole("button", { name: "Create account", exact: true }).click();
  await buyer.waitForURL(/\/library\?notice=signed_up/);
  await buyer.goto(base + "/?q=lagos");
  await rec.shot(buyer, "shop-search");
  await buyer.getByRole("link", { name: "The Lagos Cookbook" }).click();
  await buyer.waitForURL(new RegExp(`/p/${productId}$`));
  check((await buyer.locator("#price").textContent()).includes("NGN 2,500.00"), "price shown");
  check(await buyer.getByLabel("Your email").inputValue() === buyerEmail,
        "the buy form knows the signed-in buyer's email");
  await rec.shot(buyer, "product");
  await buyer.getByRole("button", { name: /^Buy/ }).click();

  // The sandbox gateway's hosted checkout page.
  await buyer.waitForURL(/\/sandbox\/checkout\//);
  check((await buyer.locator("#amount").textContent()).includes("NGN 2,500.00"),
        "the gateway shows the amount");
  await rec.shot(buyer, "gateway-checkout");
  await buyer.getByRole("button", { name: /^Pay/ }).click();

  // Back on souk: the order page follows the order until it is delivered.
  await buyer.waitForURL(/\/orders\/[^/?]+$/);
  const orderId = buyer.url().split("/").pop();
  await buyer.locator("h1", { hasText: "Your files are ready" }).waitFor({ timeout: 30000 });
  check((await buyer.locator(".remaining").first().textContent()).includes("5 of 5 downloads left"),
        "downloads remaining shown");
  await rec.shot(buyer, "order-delivered");

  const [download] = await Promise.all([
    buyer.waitForEvent("download"),
    buyer.getByRole("button", { name: `Download ${path.basename(upload)}` }).click(),
  ]);
  const saved = path.join(os.tmpdir(), `downloaded-${stamp}`);
  await download.saveAs(saved);
  const got = fs.readFileSync(saved);
  check(got.length === bytes.length && sha256(got) === sha256(bytes),
        `downloaded bytes identical (${got.length} of ${bytes.length})`);
  check(download.suggestedFilename() === path.basename(upload), "download keeps the file's name");
  await buyer.goto(base + `/orders/${orderId}`);
  check((await buyer.locator(".remaining").first().textContent()).includes("4 of 5 downloads left"),
        "the download was counted");
  await buyer.getByRole("link", { name: "My purchases" }).click();
  check((await buyer.locator("table").textContent()).includes("The Lagos Cookbook"),
        "the library lists the purchase");
  await rec.shot(buyer, "library");
  await rec.phone(browser, base + `/orders/${orderId}`, "order", await buyerCtx.storageState());
  await rec.phone(browser, base + `/p/${productId}`, "product", await buyerCtx.storageState());

  // --- the creator sees the sale and the pending balance (NGN 2,500.00
  // less the fee of 5% + NGN 100.00).
  await creator.goto(base + "/dashboard");
  check((await creator.locator("#sales").textContent()).includes(buyerEmail), "the sale is listed");
  check((await creator.locator("#pending-NGN").textContent()).trim() === "NGN 2,275.00",
        "the pending balance holds the creator's net");
  check(await creator.locator("svg.chart rect").count() >= 28, "the earnings chart is drawn");
  await rec.shot(creator, "dashboard-sale");
  // A buyer writes in: the creator finds the sale by the email, however typed.
  await creator.getByRole("link", { name: "All sales" }).click();
  await creator.waitForURL(/\/dashboard\/sales$/);
  const find = async (email) => {
    await creator.getByLabel("Buyer's email").fill(email);
    await creator.getByRole("button", { name: "Find", exact: true }).click();
    await creator.waitForURL((url) => url.pathname === "/dashboard/sales"
                             && url.searchParams.get("email") === email);
  };
  await find(buyerEmail.toUpperCase());
  check((await creator.locator("#sales").textContent()).includes(buyerEmail), "the sale is found by the buyer's email");
  await find("someone.else@example.com");
  check(await creator.locator("#no-match").isVisible(), "no sale is found for another email");
  check(await creator.locator("#sales").count() === 0, "and no table is shown");
  await find("nobody");
  check((await creator.locator("#email-error").textContent()).includes("@"),
        "a bad email is explained beside the search box");
  check(await creator.getByLabel("Buyer's email").getAttribute("aria-invalid") === "true",
        "the box is marked invalid");
  await rec.phone(browser, base + "/dashboard", "dashboard", await creatorCtx.storageState());
  await creator.goto(base + "/dashboard/payouts");
  await rec.shot(creator, "payouts");

  // --- the operator
  const opCtx = await browser.newContext();
  const op = await opCtx.newPage();
  rec.watch(op, "operator");
  await op.goto(base + "/console");
  await op.waitForURL(/\/login\?next=/);
  await op.getByLabel("Email").fill(opEmail);
  await op.getByLabel("Password").fill(password);
  await op.getByRole("button", { name: "Sign in", exact: true }).click();
  await op.waitForURL(/\/console/);
  const diagram = op.locator('section[data-flow="digital_download"] svg');
  check(await diagram.count() === 1, "the digital_download flow is drawn");
  check((await diagram.locator('g[data-state="delivered"] .count').textContent()).trim() === "1 order",
        "the diagram counts the delivered order");
  await rec.shot(op, "console");
  await op.goto(base + `/console/orders/${orderId}`);
  const timeline = await op.locator("#timeline").textContent();
  for (const event of ["order.created", "payment.succeeded", "steps.done"])
    check(timeline.includes(event), `the timeline shows ${event}`);
  check((await op.locator("#order-state").textContent()).trim() === "delivered", "order state shown");
  await rec.shot(op, "console-order");
  // A buyer writes in: the operator finds the order by the buyer's email,
  // or by the payment reference the buyer's bank shows.
  const search = async (text) => {
    await op.goto(base + "/console");
    await op.getByLabel(/^Find an order/).fill(text);
    await op.getByRole("button", { name: "Open", exact: true }).click();
  };
  await search(buyerEmail.toUpperCase());
  await op.waitForURL(/\/console\/orders\?id=/);
  check((await op.locator("#orders").textContent()).includes(orderId),
        "the operator finds the order by the buyer's email");
  await op.locator(`#orders a[href="/console/orders/${orderId}"]`).click();
  await op.waitForURL(new RegExp(`/console/orders/${orderId}$`));
  await search(`souk-${orderId}`);
  await op.waitForURL(new RegExp(`/console/orders/${orderId}$`));
  check((await op.locator("#order-state").textContent()).trim() === "delivered",
        "and by its payment reference");
  await search("nobody@example.com");
  await op.waitForURL(/\/console\/orders\?id=/);
  check(await op.locator("#no-orders").isVisible(), "an email with no orders says so");
  await rec.phone(browser, base + "/console", "console", await opCtx.storageState());
});
