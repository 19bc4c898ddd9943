// One simulated buyer: the same calls a browser and the gateway make, over
// real HTTP, retrying what a real client would retry (connection refused
// while soukd restarts, 5xx, 409 while an idempotent request is running).

#include <thread>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "run.hpp"

namespace souk::load {

namespace {

using clock = std::chrono::steady_clock;
using json = nlohmann::json;

// How long a long poll of an order asks to wait (under the client's 15 s
// timeout).
constexpr std::chrono::seconds poll_wait{10};

http_client& client() {
  thread_local http_client c;
  return c;
}

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

// splitmix64: which buyers decline or abandon, the same for a given seed.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string kind_of(const std::string& what, const reply& r) {
  if (!r.answered())
    return what + ": " + r.error;
  return what + ": HTTP " + std::to_string(r.status);
}

// Sends until an answer that is not worth retrying (anything but no
// answer, 408, 409, 425, 429 and 5xx) or the deadline; counts each retry.
reply send(const std::string& what, error_counts& errors,
           clock::time_point deadline, const std::string& method,
           const std::string& url, const std::string& body,
           const std::vector<std::string>& headers) {
  for (int attempt = 0;; ++attempt) {
    auto r = client().request(method, url, body, headers);
    bool retry = !r.answered() || r.status == 408 || r.status == 409
                 || r.status == 425 || r.status == 429 || r.status >= 500;
    if (!retry || clock::now() >= deadline)
      return r;
    errors.add(kind_of(what, r));
    std::this_thread::sleep_for(
      std::chrono::milliseconds{std::min(50 << std::min(attempt, 4), 500)});
  }
}

// Fresh links for this browser, then each file, its size checked; sets
// `rec.gave_up` on failure.
bool fetch_files(const shop& s, const product& item, order_record& rec,
                 error_counts& errors, clock::time_point deadline) {
  std::vector<std::string> token_header{"X-Order-Token: " + rec.token};
  auto downloads
    = s.soukd_url + "/api/v1/orders/" + rec.order_id + "/downloads";
  auto headers = token_header;
  headers.push_back("Content-Type: application/json");
  auto r = send("links", errors, deadline, "POST", downloads, "{}", headers);
  auto links = json::parse(r.body, nullptr, false);
  if (r.status != 201 || links.is_discarded() || !links.contains("items")
      || links["items"].empty()) {
    errors.add(kind_of("links", r));
    rec.gave_up = kind_of("links", r) + " " + r.body.substr(0, 200);
    return false;
  }
  for (const auto& link : links["items"]) {
    auto url = link.value("url", "");
    r = send("download", errors, deadline, "GET", url, {}, {});
    if (r.status != 200 || r.body.size() != item.file_size) {
      errors.add(r.status == 200 ? "download: short body"
                                 : kind_of("download", r));
      rec.gave_up = kind_of("download", r);
      return false;
    }
  }
  return true;
}

} // namespace

order_record buy(const shop& s, const options& o, uint32_t index,
                 const std::string& run_id, error_counts& errors) {
  order_record rec;
  rec.index = index;
  auto roll = mix(o.seed * 1'000'003 + index) % 100;
  if (roll < o.decline_percent)
    rec.plan = order_record::intent::decline;
  else if (roll < o.decline_percent + o.abandon_percent)
    rec.plan = order_record::intent::abandon;
  auto deadline = clock::now() + o.order_deadline;
  auto& item = s.products[index % s.products.size()];

  // Checkout, with an idempotency key so that a retry after a lost answer
  // (soukd killed mid-request) gets the same order.
  auto started = clock::now();
  json order_body{{"product_id", item.id},
                  {"email", "buyer" + std::to_string(index) + "@load.example"}};
  auto r = send("checkout", errors, deadline, "POST",
                s.soukd_url + "/api/v1/orders", order_body.dump(),
                {"Content-Type: application/json",
                 "Idempotency-Key: " + run_id + "-" + std::to_string(index)});
  if (r.status != 201 && r.status != 200) {
    errors.add(kind_of("checkout", r));
    rec.gave_up = kind_of("checkout", r) + " " + r.body.substr(0, 200);
    return rec;
  }
  rec.checkout_ms = ms_since(started);
  auto doc = json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("order")
      || !doc.contains("payment")) {
    errors.add("checkout: unreadable answer");
    rec.gave_up = "checkout answer: " + r.body.substr(0, 200);
    return rec;
  }
  rec.checked_out = true;
  rec.order_id = doc["order"].value("id", "");
  rec.token = doc["order"].value("access_token", "");
  std::string pay_url = doc["payment"].value("authorization_url", "");
  auto code_at = pay_url.find("/checkout/");
  if (rec.order_id.empty() || rec.token.empty()
      || code_at == std::string::npos) {
    errors.add("checkout: answer without order, token or payment page");
    rec.gave_up = "checkout answer: " + r.body.substr(0, 200);
    return rec;
  }
  if (rec.plan == order_record::intent::abandon) {
    rec.done = clock::now();
    return rec;
  }

  // The hosted page's button. A 409 means an earlier press got through.
  bool pay = rec.plan == order_record::intent::pay;
  r = send("pay", errors, deadline, "POST",
           s.sandbox_url + pay_url.substr(code_at),
           pay ? "action=pay" : "action=decline",
           {"Content-Type: application/x-www-form-urlencoded"});
  if (r.status != 303 && r.status != 200 && r.status != 409) {
    errors.add(kind_of("pay", r));
    rec.gave_up = kind_of("pay", r);
    return rec;
  }
  if (!pay) {
    rec.done = clock::now();
    return rec;
  }
  rec.paid = true;

  // Follow the order as the order page does, until it is delivered: with
  // the last ETag in If-None-Match, so an unchanged order is a 304 after
  // one read. Polls come every 50 ms growing to 500 ms; or, with
  // --long-poll, each asks to wait for a change (`Prefer: wait`) and the
  // next goes out at once.
  std::vector<std::string> token_header{"X-Order-Token: " + rec.token};
  auto order_url = s.soukd_url + "/api/v1/orders/" + rec.order_id;
  std::chrono::milliseconds wait{50};
  std::string etag; // of the last state seen: unchanged is a 304
  while (true) {
    auto headers = token_header;
    if (!etag.empty())
      headers.push_back("If-None-Match: " + etag);
    if (!etag.empty() && o.long_poll)
      headers.push_back("Prefer: wait=" + std::to_string(poll_wait.count()));
    r = send("poll", errors, deadline, "GET", order_url, {}, headers);
    bool waited = false;
    if (r.status == 304) {
      // unchanged since the last 200 (for the whole wait, if it waited)
      waited = o.long_poll;
    } else if (r.status == 200) {
      etag = r.etag;
      waited = o.long_poll;
      auto state = json::parse(r.body, nullptr, false);
      if (!state.is_discarded())
        rec.last_state = state.value("state", "");
      if (rec.last_state == "delivered")
        break;
      if (rec.last_state == "failed" || rec.last_state == "needs_attention"
          || rec.last_state == "cancelled") {
        rec.gave_up = "order ended " + rec.last_state;
        return rec;
      }
    } else {
      errors.add(kind_of("poll", r));
    }
    if (clock::now() >= deadline) {
      rec.gave_up = "not delivered in time (last seen: " + rec.last_state + ")";
      return rec;
    }
    if (waited)
      continue;
    // As an order page would, only quicker at first (the figure is taken
    // from soukd's own timestamps, so the interval only costs the buyer):
    // 50 ms, growing by half each time, at most 500 ms.
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 3 / 2, std::chrono::milliseconds{500});
  }
  rec.delivered = true;

  if (!fetch_files(s, item, rec, errors, deadline))
    return rec;
  rec.downloaded = true;
  rec.done = clock::now();
  return rec;
}

bool download_late(const shop& s, const options& o, order_record& rec,
                   error_counts& errors) {
  auto& item = s.products[rec.index % s.products.size()];
  rec.gave_up.clear();
  if (!fetch_files(s, item, rec, errors, clock::now() + o.order_deadline))
    return false;
  rec.delivered = rec.downloaded = true;
  return true;
}

} // namespace souk::load
