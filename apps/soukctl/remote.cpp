#include "remote.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace soukctl {

namespace {

using nlohmann::json;

int fail(int code, const std::string& msg) {
  std::cerr << "soukctl: " << msg << '\n';
  return code;
}

struct reply {
  long status = 0;
  std::string body;
  std::string error; ///< set when no HTTP answer came
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One request with libcurl (no proxies from the environment: the admin API
// is reached directly).
reply call(const std::string& url, const std::string& token,
           const std::string& method, const std::string& path,
           const std::string& body = {}) {
  reply out;
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    out.error = "cannot start libcurl";
    return out;
  }
  auto target = url + path;
  curl_slist* headers = nullptr;
  auto auth = "Authorization: Bearer " + token;
  headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  if (method == "POST")
    headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, target.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  auto rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    out.error = fmt::format("cannot reach {}: {}", url, curl_easy_strerror(rc));
  else
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return out;
}

// The exit code and message for an answer that is not a success.
int problem_exit(const reply& r) {
  if (!r.error.empty())
    return fail(unreachable, r.error);
  auto doc = json::parse(r.body, nullptr, false);
  std::string detail = r.body;
  auto text = [&](const char* key) {
    return doc.is_object() && doc.contains(key) && doc[key].is_string()
             ? doc[key].get<std::string>()
             : std::string{};
  };
  if (!text("detail").empty() || !text("title").empty())
    detail = (text("detail").empty() ? text("title") : text("detail"))
             + (text("code").empty() ? "" : " (" + text("code") + ")");
  if (r.status == 401 || r.status == 403)
    return fail(auth, fmt::format("HTTP {}: {} — use an operator's token "
                                  "(--token or SOUK_ADMIN_TOKEN)",
                                  r.status, detail));
  return fail(failed, fmt::format("HTTP {}: {}", r.status, detail));
}

std::string text_of(const json& j) {
  if (j.is_null())
    return "-";
  if (j.is_string())
    return j.get<std::string>();
  return j.dump();
}

// A human duration from milliseconds: 950ms, 12s, 3m20s, 5h02m, 2d03h.
std::string span(int64_t ms) {
  if (ms < 1000)
    return fmt::format("{}ms", ms);
  auto s = ms / 1000;
  if (s < 60)
    return fmt::format("{}s", s);
  if (s < 3600)
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400)
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string clip(std::string s, size_t n) {
  for (auto& c : s)
    if (c == '\n' || c == '\t')
      c = ' ';
  if (s.size() > n)
    s = s.substr(0, n - 3) + "...";
  return s;
}

// Rows printed as aligned columns under a header; a row of one cell is
// printed as it is (a log line among events) and sets no width.
void table(const std::vector<std::string>& header,
           const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    width[i] = header[i].size();
  for (auto& r : rows)
    for (size_t i = 0; r.size() > 1 && i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto print = [&](const std::vector<std::string>& r) {
    if (r.size() == 1) {
      std::cout << r[0] << '\n';
      return;
    }
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size())
        line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << '\n';
  };
  print(header);
  for (auto& r : rows)
    print(r);
}

// Percent-encodes a query value (names here are [a-z0-9_.-], but a user
// may type anything).
std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct target {
  std::string url;
  std::string token;
  bool json = false;
};

// GET that follows `next_cursor` until `limit` items (0: all), `per_page`
// at a time.
int get_all(const target& t, const std::string& path, size_t limit, json& items,
            size_t per_page = 500) {
  items = json::array();
  std::string cursor;
  while (true) {
    auto sep = path.find('?') == std::string::npos ? "?" : "&";
    auto page = path + sep + fmt::format("limit={}", per_page)
                + (cursor.empty() ? "" : "&cursor=" + encode(cursor));
    auto r = call(t.url, t.token, "GET", page);
    if (!r.error.empty() || r.status != 200)
      return problem_exit(r);
    auto doc = json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc["items"].is_array())
      return fail(failed, "the server's answer is not a list");
    for (auto& x : doc["items"]) {
      if (limit > 0 && items.size() == limit)
        return ok;
      items.push_back(x);
    }
    if (!doc["next_cursor"].is_string())
      return ok;
    cursor = doc["next_cursor"].get<std::string>();
  }
}

// --limit N (at least 1), or `fallback`; 0 after printing the usage error.
size_t limit_of(const souk::config::command_line& cli, size_t fallback) {
  if (!cli.values.count("limit"))
    return fallback;
  auto& v = cli.values.at("limit");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos
      || v.size() > 7 || std::stoul(v) == 0) {
    fail(usage, "--limit must be a whole number of at least 1");
    return 0;
  }
  return std::stoul(v);
}

int actors(const target& t, const souk::config::command_line& cli) {
  std::string query = "/admin/actors?status=";
  query += cli.switches.count("passivated") ? "passivated" : "live";
  for (auto key : {"state", "flow", "kind"})
    if (cli.values.count(key))
      query += fmt::format("&{}={}", key, encode(cli.values.at(key)));
  // Passivated orders include every order resting in a non-terminal state
  // (delivered ones, awaiting a possible refund): page, don't dump.
  size_t limit = limit_of(cli, 1000);
  if (limit == 0)
    return usage;
  json items;
  if (auto rc = get_all(t, query, limit, items); rc != ok)
    return rc;
  if (t.json) {
    std::cout << json{{"items", items}}.dump() << '\n';
    return ok;
  }
  std::vector<std::vector<std::string>> rows;
  size_t orders = 0, services = 0;
  for (auto& x : items) {
    bool order = x.value("kind", "") == "order";
    (order ? orders : services)++;
    std::string step = "-";
    if (x.contains("step") && x["step"].is_object())
      step = fmt::format("{}#{}{}", x["step"].value("action", "?"),
                         x["step"].value("attempt", 0),
                         x["step"].value("in_flight", false) ? "*" : "");
    rows.push_back(
      {x.value("kind", ""), x.value("id", ""), x.value("status", ""),
       order ? text_of(x.value("flow", json(nullptr))) : "-",
       order ? text_of(x.value("state", json(nullptr))) : "-",
       x.contains("ms_in_state") ? span(x["ms_in_state"].get<int64_t>()) : "-",
       x.contains("mailbox") ? std::to_string(x["mailbox"].get<int64_t>())
                             : "-",
       x.contains("queued") ? std::to_string(x["queued"].get<int64_t>()) : "-",
       step, std::to_string(x.value("restarts", 0)),
       clip(text_of(x.value("last_error", json(nullptr))), 60)});
  }
  table({"KIND", "ID", "STATUS", "FLOW", "STATE", "IN STATE", "MAILBOX",
         "QUEUED", "STEP", "RESTARTS", "LAST ERROR"},
        rows);
  std::cout << fmt::format("{} order actor(s), {} service actor(s){}\n", orders,
                           services,
                           cli.switches.count("passivated")
                             ? " (passivated: no actor until the next event)"
                             : "");
  if (items.size() == limit)
    std::cout << fmt::format("showing the first {}; narrow with --state or "
                             "--flow, or raise --limit\n",
                             limit);
  return ok;
}

// Buyers' orders, newest first: by the email they paid with (what a buyer
// writing in gives), a state or a product.
int orders(const target& t, const souk::config::command_line& cli) {
  std::string query = "/api/v1/orders?as=all";
  for (auto [flag, param] : {std::pair{"email", "email"},
                             {"state", "state"},
                             {"product", "product_id"}})
    if (cli.values.count(flag))
      query += fmt::format("&{}={}", param, encode(cli.values.at(flag)));
  size_t limit = limit_of(cli, 50);
  if (limit == 0)
    return usage;
  json items;
  if (auto rc = get_all(t, query, limit, items, std::min<size_t>(limit, 100));
      rc != ok)
    return rc;
  if (t.json) {
    std::cout << json{{"items", items}}.dump() << '\n';
    return ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (auto& x : items) {
    auto& p = x["price"];
    rows.push_back(
      {x.value("id", ""), x.value("state", ""), x.value("buyer_email", ""),
       fmt::format("{} {}", p.value("amount", int64_t{0}),
                   p.value("currency", "")),
       clip(x.value("product_title", ""), 40), x.value("created_at", "")});
  }
  table({"ID", "STATE", "BUYER", "PRICE (MINOR)", "PRODUCT", "CREATED"}, rows);
  std::cout << fmt::format(
    "{} order(s), newest first{}\n", items.size(),
    items.size() == limit ? "; more may match: raise --limit" : "");
  return ok;
}

int flows(const target& t) {
  auto r = call(t.url, t.token, "GET", "/admin/flows");
  if (!r.error.empty() || r.status != 200)
    return problem_exit(r);
  auto doc = json::parse(r.body, nullptr, false);
  if (!doc.is_object() || !doc["items"].is_array())
    return fail(failed, "the server's answer is not a list of flows");
  if (t.json) {
    std::cout << doc.dump() << '\n';
    return ok;
  }
  for (auto& f : doc["items"]) {
    std::cout << fmt::format(
      "{} version {} ({}, hash {}) — {}\n", f.value("name", ""),
      f.value("version", 0), f.value("kind", ""),
      f.value("hash", "").substr(0, 12), f.value("description", ""));
    std::vector<std::vector<std::string>> rows;
    for (auto& s : f["states"]) {
      std::string on;
      for (auto& [event, to] : s["on"].items())
        on += (on.empty() ? "" : ", ") + event + " -> " + to.get<std::string>();
      std::string steps;
      for (auto& st : s["steps"])
        steps += (steps.empty() ? "" : ", ") + st.get<std::string>();
      rows.push_back({"  " + s.value("name", ""),
                      std::to_string(s.value("orders", int64_t{0})),
                      s.value("terminal", false) ? "yes" : "",
                      steps.empty() ? "-" : steps, on.empty() ? "-" : on});
    }
    table({"  STATE", "ORDERS", "TERMINAL", "STEPS", "ON"}, rows);
    std::string versions;
    for (auto& v : f["versions"])
      versions += fmt::format("{}v{}: {}", versions.empty() ? "" : ", ",
                              v.value("version", 0), v.value("orders", 0));
    if (!versions.empty())
      std::cout << "  orders per version: " << versions << '\n';
    std::cout << '\n';
  }
  return ok;
}

// The ISO timestamp at the start of a log line (text format) or in its
// "ts" member (JSON lines), cut to milliseconds like souk's own times.
std::string stamp_of(const std::string& line) {
  static const std::regex iso{R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z)"};
  std::smatch m;
  if (!std::regex_search(line, m, iso))
    return {};
  auto frac = m[2].matched ? m[2].str() : std::string{".000"};
  frac = (frac + "000").substr(0, 4);
  return m[1].str() + frac + "Z";
}

int order(const target& t, const souk::config::command_line& cli,
          const std::string& id) {
  auto r = call(t.url, t.token, "GET", "/admin/orders/" + encode(id));
  if (!r.error.empty() || r.status != 200)
    return problem_exit(r);
  auto doc = json::parse(r.body, nullptr, false);
  if (!doc.is_object() || !doc["order"].is_object())
    return fail(failed, "the server's answer is not an order");
  // Log lines about the order: every line souk writes about an order
  // carries its id (docs/operations.md).
  std::vector<std::pair<std::string, std::string>> logs; // stamp, line
  if (cli.values.count("log")) {
    auto& path = cli.values.at("log");
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
      file.open(path);
      if (!file)
        return fail(usage, "cannot read log file " + path);
      in = &file;
    }
    for (std::string line; std::getline(*in, line);)
      if (line.find(id) != std::string::npos)
        logs.emplace_back(stamp_of(line), line);
  }
  if (t.json) {
    if (cli.values.count("log")) {
      auto lines = json::array();
      for (auto& [at, line] : logs)
        lines.push_back({{"at", at}, {"line", line}});
      doc["log"] = lines;
    }
    std::cout << doc.dump() << '\n';
    return ok;
  }
  auto& o = doc["order"];
  std::cout << fmt::format(
    "order {} ({})\n  state      {}{}\n  flow       {} v{}\n  price      {} "
    "{}\n  buyer      {}\n  created    {}\n  updated    {}\n",
    o.value("id", ""), o.value("kind", ""), o.value("state", ""),
    o["parked_from"].is_string()
      ? " (parked from " + o["parked_from"].get<std::string>() + ")"
      : "",
    o.value("flow", ""), o.value("flow_version", 0),
    o["price"].value("amount", int64_t{0}), o["price"].value("currency", ""),
    text_of(o["buyer_email"]), o.value("created_at", ""),
    o.value("updated_at", ""));
  if (o["last_error"].is_string())
    std::cout << "  last error " << o["last_error"].get<std::string>() << '\n';
  auto& a = doc["actor"];
  std::cout << "  actor      " << a.value("status", "?");
  if (a.contains("mailbox"))
    std::cout << fmt::format(" (mailbox {}, queued {}, restarts {})",
                             a.value("mailbox", 0), a.value("queued", 0),
                             a.value("restarts", 0));
  std::cout << "\n\n";

  // The timeline, with the log lines merged in by time.
  struct entry {
    std::string at;
    int rank; // events before log lines of the same millisecond
    std::vector<std::string> cols;
  };
  std::vector<entry> lines;
  for (auto& e : doc["timeline"]) {
    auto detail = e["detail"].is_string() ? e["detail"].get<std::string>()
                                          : e["detail"].dump();
    lines.push_back(
      {e.value("at", ""),
       0,
       {std::to_string(e.value("seq", 0)), e.value("at", ""),
        e.value("event", ""), text_of(e["from"]) + " -> " + e.value("to", ""),
        e.value("actor", ""), clip(detail, 70)}});
  }
  for (auto& [at, line] : logs)
    lines.push_back({at, 1, {"  | " + line}});
  std::stable_sort(lines.begin(), lines.end(), [](auto& x, auto& y) {
    return std::tie(x.at, x.rank) < std::tie(y.at, y.rank);
  });
  std::vector<std::vector<std::string>> rows;
  for (auto& l : lines)
    rows.push_back(l.cols);
  std::cout << "timeline" << (logs.empty() ? "" : " and log") << ":\n";
  table({"SEQ", "AT", "EVENT", "FROM -> TO", "ACTOR", "DETAIL"}, rows);

  auto section = [](const char* title, const json& list,
                    const std::vector<std::string>& header,
                    const std::vector<std::string>& keys) {
    if (!list.is_array() || list.empty())
      return;
    std::cout << '\n' << title << ":\n";
    std::vector<std::vector<std::string>> rs;
    for (auto& x : list) {
      std::vector<std::string> row;
      for (auto& k : keys)
        row.push_back(clip(text_of(x.value(k, json(nullptr))), 60));
      rs.push_back(row);
    }
    table(header, rs);
  };
  section("timers", doc["timers"], {"KIND", "EVENT", "DUE", "STATUS"},
          {"kind", "event", "due_at", "status"});
  section("outbox", doc["outbox"],
          {"ACTION", "STATUS", "ATTEMPTS", "KEY", "LAST ERROR"},
          {"action", "status", "attempts", "idempotency_key", "last_error"});
  section("payments", doc["payments"],
          {"REFERENCE", "STATUS", "GATEWAY STATUS", "SETTLED BY", "CHECKS"},
          {"reference", "status", "gateway_status", "settled_by", "checks"});
  section("refunds", doc["refunds"], {"ID", "STATUS", "CREATED"},
          {"id", "status", "created_at"});
  section("gateway events (inbox)", doc["inbox"],
          {"EVENT", "STATUS", "ATTEMPTS", "RECEIVED", "LAST ERROR"},
          {"event", "status", "attempts", "received_at", "last_error"});
  section("emails", doc["email_outbox"],
          {"TEMPLATE", "TO", "STATUS", "ATTEMPTS", "LAST ERROR"},
          {"template", "recipient", "status", "attempts", "last_error"});
  section("download grants", doc["grants"],
          {"FILE", "DOWNLOADS", "MAX", "EXPIRES", "REVOKED"},
          {"file", "downloads", "max_downloads", "expires_at", "revoked_at"});
  return ok;
}

int act(const target& t, const souk::config::command_line& cli,
        const std::string& verb, const std::string& id) {
  json body = json::object();
  if (cli.values.count("reason"))
    body["reason"] = cli.values.at("reason");
  if (cli.values.count("amount")) {
    if (verb != "refund")
      return fail(usage, "--amount only goes with refund");
    auto& v = cli.values.at("amount");
    if (v.empty() || v.size() > 18
        || v.find_first_not_of("0123456789") != std::string::npos)
      return fail(usage, "--amount must be a whole number of minor units");
    body["amount"] = std::stoll(v);
  }
  auto r = call(t.url, t.token, "POST",
                "/admin/orders/" + encode(id) + "/" + verb, body.dump());
  if (!r.error.empty() || r.status != 202)
    return problem_exit(r);
  auto doc = json::parse(r.body, nullptr, false);
  if (t.json) {
    std::cout << doc.dump() << '\n';
    return ok;
  }
  std::cout << fmt::format("order {}: {} accepted; now {}\n", id, verb,
                           doc.value("state", "?"));
  return ok;
}

std::string env_or(const char* name, const std::string& fallback) {
  auto* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string{v} : fallback;
}

} // namespace

bool is_remote(const std::string& command) {
  return command == "actors" || command == "order" || command == "orders"
         || command == "flows" || command == "retry" || command == "cancel"
         || command == "fulfil" || command == "refund";
}

int run_remote(const std::string& command,
               const souk::config::command_line& cli,
               const souk::config::settings& cfg) {
  auto& words = cli.positional;
  bool needs_id = command == "order" || command == "retry"
                  || command == "cancel" || command == "fulfil"
                  || command == "refund";
  if (needs_id && words.size() != 2)
    return fail(usage, fmt::format("usage: soukctl {} ORDER_ID", command));
  if (!needs_id && words.size() != 1)
    return fail(usage, fmt::format("unexpected argument '{}'", words[1]));
  target t;
  t.json = cli.switches.count("json") > 0;
  // Where: --url, SOUK_ADMIN_URL, the public URL, the listen address.
  auto fallback = cfg.public_url;
  if (fallback.empty()) {
    auto host = cfg.listen.substr(0, cfg.listen.rfind(':'));
    if (host == "0.0.0.0" || host.empty())
      host = "127.0.0.1";
    fallback = "http://" + host + cfg.listen.substr(cfg.listen.rfind(':'));
  }
  t.url = cli.values.count("url") ? cli.values.at("url")
                                  : env_or("SOUK_ADMIN_URL", fallback);
  while (t.url.ends_with('/'))
    t.url.pop_back();
  if (!t.url.starts_with("http://") && !t.url.starts_with("https://"))
    return fail(usage, "the admin URL must start with http:// or https:// "
                       "(got '"
                         + t.url + "')");
  t.token = cli.values.count("token") ? cli.values.at("token")
                                      : env_or("SOUK_ADMIN_TOKEN", "");
  if (t.token.empty())
    return fail(auth, "no operator token: set SOUK_ADMIN_TOKEN (an operator's "
                      "API key from `soukctl admin key`, or a session token) "
                      "or pass --token");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = ok;
  try {
    if (command == "actors")
      rc = actors(t, cli);
    else if (command == "flows")
      rc = flows(t);
    else if (command == "orders")
      rc = orders(t, cli);
    else if (command == "order")
      rc = order(t, cli, words[1]);
    else
      rc = act(t, cli, command, words[1]);
  } catch (const json::exception& e) {
    // A field of another type than this soukctl expects: an older or
    // newer soukd.
    rc = fail(failed, std::string{"unexpected answer from soukd: "} + e.what());
  }
  curl_global_cleanup();
  return rc;
}

} // namespace soukctl
