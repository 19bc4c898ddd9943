// A storefront on its own origin buys through souk's JSON API from the
// browser (CORS, `http.cors_origins`): its page checks out (a POST with
// JSON and an Idempotency-Key, so the browser asks first), the buyer pays
// on the sandbox's hosted page, and the page follows the order until it is
// delivered, reading the ETag souk exposes and getting a 304 for it. A page
// of an origin souk does not list cannot: the browser refuses it.

import http from "node:http";
import { check, creatorToken, need, product, randomFile, run } from "./lib.mjs";

const password = "correct horse battery staple";

// A static storefront: one empty page, on a port of its own (so an origin
// of its own).
async function storefront() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html lang=\"en\"><head><title>Shop</title></head>" +
            "<body><main><h1>A shop elsewhere</h1></main></body></html>");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

const shop = await storefront();
const stranger = await storefront();

try {
  await run("cross_origin", {
    SOUK_FLOWS_DIRECTORY: need("SOUK_TEST_FLOWS"),
    SOUK_HTTP_CORS_ORIGINS: shop.origin,
  }, async ({ souk, browser, rec }) => {
    const api = souk.url;
    const stamp = Date.now();
    const token = await creatorToken(api, `maker${stamp}@example.com`, password);
    const id = await product(api, token, "short_link", randomFile(1024), "Travel guide");

    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    rec.watch(page, "storefront");
    await page.goto(shop.origin + "/");

    // Checkout from the storefront's page.
    const checkout = async (p) => p.evaluate(async ({ api, id, stamp }) => {
      try {
        const res = await fetch(`${api}/api/v1/orders`, {
          method: "POST",
          headers: { "Content-Type": "application/json",
                     "Idempotency-Key": `cross-origin-${stamp}` },
          body: JSON.stringify({ product_id: id, email: `far${stamp}@example.com` }),
        });
        return { status: res.status, body: await res.json(),
                 requestId: res.headers.get("X-Request-Id") };
      } catch (err) {
        return { refused: String(err) };
      }
    }, { api, id, stamp });
    const made = await checkout(page);
    check(made.status === 201, `the storefront's checkout answers 201 (${JSON.stringify(made)})`);
    check(made.requestId && made.requestId.length === 16, "the page reads an exposed header");
    const order = made.body.order;
    check(order.id && order.access_token, "the answer carries the order and its token");

    // The buyer pays on the gateway's page (souk's callback then shows
    // souk's own order page; the storefront follows the order itself).
    const pay = await ctx.newPage();
    await pay.goto(made.body.payment.authorization_url);
    await pay.getByRole("button", { name: /^Pay/ }).click();
    await pay.waitForURL(/\/orders\/[^/?]+$/);

    const follow = await page.evaluate(async ({ api, order }) => {
      const headers = { "X-Order-Token": order.access_token };
      for (let i = 0; i < 150; ++i) {
        const res = await fetch(`${api}/api/v1/orders/${order.id}`, { headers });
        const body = await res.json();
        if (body.state === "delivered") {
          const etag = res.headers.get("ETag");
          const again = await fetch(`${api}/api/v1/orders/${order.id}`,
                                    { headers: { ...headers, "If-None-Match": etag } });
          return { state: body.state, etag, again: again.status };
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      return { state: "not delivered in 30 s" };
    }, { api, order });
    check(follow.state === "delivered", `the storefront sees the order delivered (${follow.state})`);
    check(follow.etag, "the storefront reads the order's ETag");
    check(follow.again === 304, `an unchanged order is a 304 (${follow.again})`);

    // A page of another origin: the browser asks, souk says no (403, as a
    // browser's preflight sees it), the request is never sent.
    const asked = await fetch(`${api}/api/v1/orders`, {
      method: "OPTIONS",
      headers: { Origin: stranger.origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type, idempotency-key" } });
    check(asked.status === 403 && !asked.headers.get("access-control-allow-origin"),
          `souk refuses another origin's preflight (${asked.status})`);
    const strangerCtx = await browser.newContext();
    const strangerPage = await strangerCtx.newPage();
    await strangerPage.goto(stranger.origin + "/");
    const refused = await checkout(strangerPage);
    check(refused.refused && /fetch/i.test(refused.refused),
          `another origin's checkout is refused by the browser (${JSON.stringify(refused)})`);
    await strangerCtx.close();
    await ctx.close();
  });
} finally {
  shop.server.close();
  stranger.server.close();
}
