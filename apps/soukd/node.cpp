#include "node.hpp"

#include <atomic>
#include <filesystem>
#include <set>
#include <unistd.h>

#include <caf/actor.hpp>
#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/actors/blocking_service.hpp"
#include "souk/actors/engine.hpp"
#include "souk/actors/heartbeat.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/actors/runtime.hpp"
#include "souk/actors/services.hpp"
#include "souk/actors/supervisor.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/change_watch.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/core/net.hpp"
#include "souk/core/time.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/delivery/service.hpp"
#include "souk/email/message.hpp"
#include "souk/email/sender.hpp"
#include "souk/email/templates.hpp"
#include "souk/email/transport.hpp"
#include "souk/http/rate_limit.hpp"
#include "souk/http/routes.hpp"
#include "souk/http/server.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/orders/library.hpp"
#include "souk/pages/pages.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/payments/payouts.hpp"
#include "souk/payments/service.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/housekeeping.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/nodes.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/product_files.hpp"
#include "souk/sandbox/gateway.hpp"
#include "souk/storage/blob_store.hpp"
#include "souk/wallet/service.hpp"

namespace souk {

namespace {

constexpr std::chrono::seconds heartbeat_interval{10};

http::server_options server_options_of(const config::settings& cfg) {
  http::server_options o;
  o.listen = cfg.listen;
  o.body_limit = cfg.http.body_limit;
  o.header_limit = cfg.http.header_limit;
  o.header_timeout = cfg.http.header_timeout;
  o.read_timeout = cfg.http.read_timeout;
  o.write_timeout = cfg.http.write_timeout;
  o.idle_timeout = cfg.http.idle_timeout;
  o.max_requests_per_connection = cfg.http.max_requests_per_connection;
  o.threads = cfg.http.threads;
  o.access_log = cfg.log.access_log;
  // Checked when the settings were loaded.
  if (auto proxies = ip_networks::parse(cfg.http.trusted_proxies))
    o.trusted_proxies = *proxies;
  o.forwarded_rfc7239 = cfg.http.forwarded_header == "forwarded";
  if (auto origins = web_origins::parse(cfg.http.cors_origins))
    o.cors_origins = *origins;
  o.cors_max_age
    = std::chrono::duration_cast<std::chrono::seconds>(cfg.http.cors_max_age);
  return o;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0)
    return "unknown";
  return buf;
}

// How long past its time an order's payment.expired may wait for the
// gateway to say whether the payment went through (see before_timer).
constexpr std::chrono::minutes expiry_hold{10};

// How often a long poll of an order reads it again without being told of a
// change: what this node's engine commits wakes it at once, this catches
// the rest (another node's commits, a payment's status alone).
constexpr std::chrono::seconds order_poll_recheck{5};

// Rows of each kind housekeeping deletes per statement.
constexpr int64_t housekeeping_batch = 500;

// Emails one sender round claims: few, so that a burst of receipts is
// shared out between the `email.senders` rounds running at once.
constexpr size_t email_batch = 4;
// What one message written by the file transport may take, for its lease.
constexpr std::chrono::seconds file_send_bound{5};
// How long a row leased as it is written (a webhook's inbox row, a
// receipt) may wait in memory for its round before it is left to the usual
// claim: its lease is the round's plus this.
constexpr std::chrono::seconds handoff_wait{30};

actors::engine_options engine_options_of(const config::settings& cfg,
                                         const std::string& node_id) {
  auto& o = cfg.orders;
  actors::engine_options e;
  e.node_id = node_id;
  e.step_timeout = o.step_timeout;
  // A dispatched step stays leased for its answer time plus a margin, so
  // the recovery sweep never starts a step that is still running.
  e.plan.step_lease = o.step_timeout + o.timer_lease;
  e.plan.retry_jitter = o.jitter_percent / 100.0;
  e.idle_timeout = o.idle_timeout;
  e.timer_poll = o.timer_poll;
  e.timer_lease = o.timer_lease;
  e.batch = o.batch;
  e.sweep_interval = o.sweep_interval;
  e.restart = actors::restart_policy{
    o.restart_initial,       2, o.restart_max, o.max_crashes, o.crash_window,
    o.jitter_percent / 100.0};
  return e;
}

// The URL with exactly one trailing slash.
// "https://host:port" of a URL (the scheme and authority, no path).
std::string origin_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return {};
  return url.substr(0, url.find('/', scheme + 3));
}

std::string with_slash(std::string url) {
  while (url.ends_with('/'))
    url.pop_back();
  return url + '/';
}

constexpr const char* sandbox_default_key = "sk_test_souk_sandbox";

} // namespace

struct node::impl {
  config::settings cfg;
  node_extensions ext;
  std::atomic<bool> fenced{false};
  std::string id = new_uuid();
  std::shared_ptr<persistence::database> db;
  std::shared_ptr<metrics::registry> metrics
    = std::make_shared<metrics::registry>();
  std::unique_ptr<actors::runtime> runtime;
  std::shared_ptr<actors::supervision_board> board;
  flows::action_catalog actions;
  std::shared_ptr<orders::flow_library> flows;
  std::shared_ptr<actors::service_directory> directory;
  std::unique_ptr<actors::order_engine> engine;
  std::shared_ptr<worker_pool> workers;
  std::shared_ptr<worker_pool> gateway_workers;
  std::shared_ptr<worker_pool> payment_workers;
  std::shared_ptr<sandbox::gateway> sandbox;
  std::shared_ptr<payments::service> payments;
  std::shared_ptr<payments::payouts> payouts;
  std::shared_ptr<wallet::service> wallet;
  std::shared_ptr<worker_pool> wallet_workers;
  std::shared_ptr<delivery::service> delivery;
  std::shared_ptr<email::sender> mail;
  std::shared_ptr<worker_pool> delivery_workers;
  std::shared_ptr<worker_pool> email_workers;
  std::shared_ptr<worker_pool> housekeeping_workers;
  /// Product files' bytes (`<data_dir>/files`).
  std::shared_ptr<storage::blob_store> store;
  /// Long polls of orders, woken by the engine's commits.
  std::shared_ptr<change_watch> order_watch
    = std::make_shared<change_watch>(order_poll_recheck);
  http::router routes;
  std::unique_ptr<http::server> server;
  bool registered = false;
  bool stopped = false;
};

namespace {

// What /metrics reads at each scrape: the database pool, the backlog of
// side effects, timers, emails and gateway events, orders per state (and
// how many wait with no actor), and the supervised service actors.
void add_collectors(metrics::registry& m,
                    std::shared_ptr<persistence::database> db,
                    std::shared_ptr<orders::flow_library> flows,
                    std::shared_ptr<actors::supervision_board> board) {
  using metrics::family;
  m.add_collector([db] {
    std::vector<family> out;
    auto pool = static_cast<double>(db->pool_size());
    out.push_back(
      {"souk_db_connections", "Connections in the pool.", false, {{{}, pool}}});
    out.push_back({"souk_db_connections_in_use",
                   "Connections leased by a job now.",
                   false,
                   {{{}, static_cast<double>(db->in_use())}}});
    out.push_back({"souk_db_lease_waits_total",
                   "Jobs that found no free connection and waited.",
                   true,
                   {{{}, static_cast<double>(db->lease_waits())}}});
    out.push_back({"souk_db_lease_timeouts_total",
                   "Jobs that waited too long for a connection and failed.",
                   true,
                   {{{}, static_cast<double>(db->lease_timeouts())}}});
    return out;
  });
  m.add_collector([db, flows, &m] {
    std::vector<family> out;
    persistence::order_repository repo{*db};
    family up{"souk_metrics_database_up",
              "1 if the last scrape could read the database.",
              false,
              {}};
    auto counts = repo.count_by_state();
    auto backlog = repo.backlog_at(souk::now());
    up.samples.push_back({{}, counts && backlog ? 1.0 : 0.0});
    out.push_back(up);
    if (counts) {
      family orders{"souk_orders",
                    "Orders (and payouts) per flow, flow version and state.",
                    false,
                    {}};
      double open = 0;
      for (auto& c : *counts) {
        orders.samples.push_back(
          {{{"kind", c.kind},
            {"flow", c.flow},
            {"flow_version", std::to_string(c.flow_version)},
            {"state", c.state}},
           static_cast<double>(c.orders)});
        auto tpl = flows->current(c.flow);
        auto* s = tpl ? (*tpl)->find(c.state) : nullptr;
        if (s == nullptr || !s->terminal)
          open += static_cast<double>(c.orders);
      }
      out.push_back(std::move(orders));
      out.push_back({"souk_orders_open",
                     "Orders not in a terminal state (in flight, or resting "
                     "where a refund may still come).",
                     false,
                     {{{}, open}}});
      // With one node exact; with several, each counts the others' live
      // actors as passivated.
      auto live = static_cast<double>(m.live_orders());
      out.push_back({"souk_actors_passivated",
                     "Open orders with no actor on this node (rebuilt from "
                     "the database by their next event, timer or admin "
                     "action).",
                     false,
                     {{{}, std::max(0.0, open - live)}}});
    }
    if (backlog) {
      auto& b = *backlog;
      auto gauge = [&](const char* name, const char* help, double v) {
        out.push_back({name, help, false, {{{}, v}}});
      };
      gauge("souk_outbox_pending", "Side effects not done yet.",
            static_cast<double>(b.outbox_pending));
      gauge("souk_outbox_lag_seconds",
            "Age of the oldest pending side effect nobody holds a lease on "
            "(0 when none).",
            b.outbox_unclaimed_seconds);
      gauge("souk_timers_pending", "Durable timers not fired yet.",
            static_cast<double>(b.timers_pending));
      gauge("souk_timer_lag_seconds",
            "How late the most overdue pending timer is (0 when none).",
            b.timers_overdue_seconds);
      gauge("souk_email_outbox_queued", "Emails waiting to be sent.",
            static_cast<double>(b.emails_queued));
      gauge("souk_email_outbox_lag_seconds",
            "Age of the oldest queued email (0 when none).",
            b.emails_oldest_seconds);
      gauge("souk_inbox_unprocessed",
            "Gateway events stored but not processed yet.",
            static_cast<double>(b.inbox_received));
      gauge("souk_inbox_lag_seconds",
            "Age of the oldest unprocessed gateway event (0 when none).",
            b.inbox_oldest_seconds);
    }
    return out;
  });
  m.add_collector([board] {
    family up{"souk_service_up",
              "1 if the supervised actor runs, 0 while it restarts or after "
              "supervision gave up on it.",
              false,
              {}};
    family restarts{"souk_service_restarts_total",
                    "Restarts of a supervised actor since start-up.",
                    true,
                    {}};
    for (auto& c : board->snapshot()) {
      up.samples.push_back({{{"name", c.name}}, c.running ? 1.0 : 0.0});
      restarts.samples.push_back(
        {{{"name", c.name}}, static_cast<double>(c.restarts)});
    }
    return std::vector<family>{up, restarts};
  });
}

// The licence-key pools a flow takes keys from.
std::set<std::string> licence_pools(const flows::flow_template& tpl) {
  std::set<std::string> pools;
  for (auto& state : tpl.states)
    for (auto& step : state.steps)
      if (step.action == "licence.issue_key") {
        auto pool = step.params.find("pool");
        pools.insert(pool == step.params.end() ? "default" : pool->second);
      }
  return pools;
}

// Whether `tpl` gives buyers files (`delivery.grant_access`).
bool grants_files(const flows::flow_template& tpl) {
  for (auto& state : tpl.states)
    for (auto& step : state.steps)
      if (step.action == "delivery.grant_access")
        return true;
  return false;
}

} // namespace

node::node(config::settings cfg, node_extensions ext)
  : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->ext = std::move(ext);
}

node::~node() {
  stop();
}

status node::start() {
  auto& d = *impl_;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto sub : {"", "files", "mail"}) {
    fs::create_directories(fs::path{d.cfg.data_dir} / sub, ec);
    if (ec)
      return error{errc::config,
                   fmt::format("cannot create data directory {}: {}",
                               (fs::path{d.cfg.data_dir} / sub).string(),
                               ec.message())};
  }

  persistence::database::options db_opts;
  db_opts.url = d.cfg.effective_database_url();
  db_opts.pool_size = d.cfg.database.pool_size;
  db_opts.statement_cache = d.cfg.database.statement_cache;
  db_opts.acquire_timeout = d.cfg.database.acquire_timeout;
  db_opts.busy_timeout = d.cfg.database.busy_timeout;
  db_opts.lock_timeout = d.cfg.database.lock_timeout;
  db_opts.idle_in_transaction_timeout
    = d.cfg.database.idle_in_transaction_timeout;
  auto db = persistence::database::open(db_opts);
  if (!db)
    return db.err();
  d.db = *db;
  log::info("database: {} ({})", d.db->display_url(),
            persistence::to_string(d.db->kind()));

  auto& shipped = persistence::shipped_migrations(d.db->kind());
  if (d.cfg.database.migrate_on_start) {
    auto applied = persistence::migrate(*d.db, shipped);
    if (!applied)
      return applied.err();
  }
  auto state = persistence::inspect(*d.db, shipped);
  if (!state)
    return state.err();
  if (!state->pending.empty())
    return error{errc::config,
                 fmt::format("{} migration(s) pending and "
                             "database.migrate_on_start is off; run "
                             "`soukctl migrate` first",
                             state->pending.size())};
  if (!state->unknown.empty())
    log::warn("the database has {} migration(s) newer than this soukd; "
              "upgrade soukd",
              state->unknown.size());

  persistence::node_row row;
  row.id = d.id;
  row.hostname = hostname();
  row.pid = static_cast<int>(getpid());
  row.version = SOUK_VERSION;
  row.listen = d.cfg.listen;
  auto reg = persistence::node_repository{*d.db}.register_node(row);
  if (!reg)
    return reg.err();
  d.registered = true;
  for (auto& gone : reg->gone)
    log::warn("node {} ({} pid {}, last heartbeat {}) is gone; marked stopped",
              gone.id, gone.hostname, gone.pid, gone.heartbeat_at);
  if (reg->leases_freed > 0)
    log::warn("released {} lease(s) held by gone nodes; their work resumes "
              "now",
              reg->leases_freed);

  d.actions = flows::default_actions();
  for (auto& [name, params] : d.ext.actions)
    d.actions.add(name, params);
  d.flows = std::make_shared<orders::flow_library>(d.actions, d.db);
  if (auto err = d.flows->load(d.cfg.flows.directory))
    return err;
  for (auto& tpl : d.flows->list())
    log::info("flow {} version {} ({})", tpl->name, tpl->version,
              tpl->hash.substr(0, 12));

  d.runtime = std::make_unique<actors::runtime>(actors::runtime::options{});
  d.board = std::make_shared<actors::supervision_board>();
  actors::restart_policy policy{
    d.cfg.supervisor.restart_initial, d.cfg.supervisor.restart_factor,
    d.cfg.supervisor.restart_max,     d.cfg.supervisor.max_restarts,
    d.cfg.supervisor.restart_window,  d.cfg.supervisor.jitter_percent / 100.0};
  d.directory = std::make_shared<actors::service_directory>();
  auto engine_opts = engine_options_of(d.cfg, d.id);
  // Marked stopped by another node (this one looked dead): say so once and
  // let the embedder stop it (soukd exits 1, to be restarted as a new node).
  auto fenced = [this](const error&) {
    if (impl_->fenced.exchange(true))
      return;
    log::critical("this node ({}) was taken for dead by another node and "
                  "must stop: what it held may be held elsewhere now",
                  impl_->id);
    if (impl_->ext.on_fenced)
      impl_->ext.on_fenced();
  };
  std::vector<actors::child_spec> children{
    actors::node_heartbeat(d.db, d.id, heartbeat_interval, fenced)};
  for (auto& [name, spawn] : d.ext.services) {
    engine_opts.services.insert(name);
    children.push_back(actors::child_spec{
      "service." + name,
      [name, spawn, dir = d.directory](caf::actor_system& sys) {
        auto h = spawn(sys);
        dir->put(name, h);
        return h;
      }});
  }
  // Payments: the gateway (the built-in sandbox unless configured
  // otherwise), the payments service and its supervised actor "payment".
  d.gateway_workers = std::make_shared<worker_pool>(d.cfg.payments.threads);
  payments::paystack_options gw_opts;
  gw_opts.timeout = d.cfg.payments.timeout;
  gw_opts.secret_key = d.cfg.payments.paystack_secret_key;
  if (d.cfg.payments.gateway == "sandbox") {
    if (gw_opts.secret_key.empty())
      gw_opts.secret_key = sandbox_default_key;
    sandbox::options sb;
    sb.secret_key = gw_opts.secret_key;
    d.sandbox = std::make_shared<sandbox::gateway>(sb);
    d.sandbox->add_routes(d.routes, "/sandbox");
    gw_opts.base_url_fn = [this] { return with_slash(url()) + "sandbox"; };
  } else {
    if (gw_opts.secret_key.empty())
      return error{errc::config, "payments.gateway is paystack but "
                                 "payments.paystack.secret_key is empty (set "
                                 "SOUK_PAYMENTS_PAYSTACK_SECRET_KEY)"};
    gw_opts.base_url = d.cfg.payments.paystack_base_url;
  }
  payments::service_options pay_opts;
  pay_opts.reconcile_after = d.cfg.payments.reconcile_after;
  pay_opts.reconcile_max_interval = d.cfg.payments.reconcile_max_interval;
  pay_opts.reconcile_for = d.cfg.payments.reconcile_for;
  pay_opts.retry_initial = d.cfg.payments.retry_initial;
  pay_opts.retry_max = d.cfg.payments.retry_max;
  pay_opts.retry_for = d.cfg.payments.retry_for;
  pay_opts.refund_lease = 2 * d.cfg.payments.timeout + std::chrono::seconds{30};
  // A webhook is stored leased to this node and handed to the payment
  // rounds in memory: no round spends a claim (a write) on it.
  pay_opts.webhook_lease = pay_opts.lease + handoff_wait;
  pay_opts.callback_url
    = [this] { return with_slash(url()) + "api/v1/payments/paystack/return"; };
  payments::order_port port;
  port.prepare = [this](persistence::order_row base, std::string_view flow) {
    return impl_->engine->prepare(std::move(base), flow);
  };
  port.started
    = [this](const orders::creation& c) { impl_->engine->started(c); };
  port.deliver = [this](const std::string& id, orders::event_input in) {
    return impl_->engine->deliver_wait(id, std::move(in));
  };
  port.park = [db = d.db, m = d.metrics](const std::string& id,
                                         const std::string& reason) {
    bool parked_now = false;
    auto err = persistence::order_repository{*db}.park(id, reason, "payments",
                                                       &parked_now);
    if (parked_now)
      m->parked("payments");
    return err;
  };
  catalog::options catalog_opts;
  catalog_opts.flows.clear();
  // What the product editor offers: the same flows, the default first.
  std::vector<pages::options::flow_choice> flow_choices;
  for (auto& tpl : d.flows->list())
    if (tpl->kind == "order") { // products cannot be sold on a payout flow
      catalog_opts.flows.push_back(tpl->name);
      flow_choices.insert(tpl->name == catalog::default_flow
                            ? flow_choices.begin()
                            : flow_choices.end(),
                          {tpl->name, tpl->description});
      auto pools = licence_pools(*tpl);
      if (!pools.empty()) {
        catalog_opts.keyed_flows[tpl->name]
          = std::vector<std::string>(pools.begin(), pools.end());
        if (grants_files(*tpl))
          catalog_opts.file_and_key_flows.insert(tpl->name);
      }
    }
  auto products = std::make_shared<catalog::service>(d.db, catalog_opts);
  auto gateway = payments::make_paystack(gw_opts);
  // Payouts: payout accounts, payout requests (flow `payout`), transfers.
  payments::payout_options payout_opts;
  payout_opts.minimum = {{"NGN", d.cfg.wallet.payout_minimum_ngn},
                         {"USD", d.cfg.wallet.payout_minimum_usd}};
  payout_opts.reconcile_after = d.cfg.payments.reconcile_after;
  payout_opts.reconcile_max_interval = d.cfg.payments.reconcile_max_interval;
  payout_opts.reconcile_for = d.cfg.payments.reconcile_for;
  d.payouts
    = std::make_shared<payments::payouts>(d.db, gateway, port, payout_opts);
  pay_opts.transfer_events
    = [po = d.payouts](const payments::webhook_event& ev) {
        return po->on_event(ev);
      };
  d.payments = std::make_shared<payments::service>(d.db, gateway, products,
                                                   std::move(port), pay_opts);
  engine_opts.services.insert("payment");
  actors::blocking_service_options pay_actor;
  pay_actor.name = "payment";
  pay_actor.run = [svc = d.payments,
                   po = d.payouts](const actors::action_call& c) {
    if (c.action == "payment.transfer")
      return po->run_action(c.action, c.order_id, c.idempotency_key);
    return svc->run_action(c.action, c.order_id, c.params, c.idempotency_key);
  };
  pay_actor.round = [svc = d.payments, po = d.payouts] {
    return svc->run_due() + po->run_due();
  };
  pay_actor.poll = d.cfg.payments.poll;
  // Its own threads: anonymous HTTP traffic on gateway_workers never
  // delays webhooks, reconciliation or refunds. Webhooks are worked on by
  // several rounds at once (each leases its rows): one at a time, a
  // webhook's gateway verify and the order's answer made every other
  // webhook wait. One thread is left for steps (refunds).
  auto pay_threads = std::max<uint32_t>(2, d.cfg.payments.threads);
  d.payment_workers = std::make_shared<worker_pool>(pay_threads);
  pay_actor.rounds_at_once = pay_threads - 1;
  pay_actor.workers = d.payment_workers;
  pay_actor.directory = d.directory;
  children.push_back(actors::blocking_service(std::move(pay_actor)));

  // The wallet: the ledger's sale and refund rules, and the release of
  // holds, as the supervised actor "wallet".
  wallet::options wallet_opts;
  wallet_opts.fees.basis_points = d.cfg.wallet.fee_basis_points;
  wallet_opts.fees.fixed = {{"NGN", d.cfg.wallet.fee_fixed_ngn},
                            {"USD", d.cfg.wallet.fee_fixed_usd}};
  wallet_opts.hold = d.cfg.wallet.hold;
  d.wallet = std::make_shared<wallet::service>(d.db, wallet_opts);
  d.wallet_workers = std::make_shared<worker_pool>(2);
  engine_opts.services.insert("wallet");
  actors::blocking_service_options wallet_actor;
  wallet_actor.name = "wallet";
  wallet_actor.run = [svc = d.wallet](const actors::action_call& c) {
    return svc->run_action(c.action, c.order_id, c.idempotency_key);
  };
  // The wallet, delivery and email's queue only write to the database:
  // their steps commit with the order's transitions (orders.inline_steps).
  // A sale moves the platform's gateway and fee balances, rows every order
  // updates: the transaction commits right after the wallet's step.
  if (d.cfg.orders.inline_steps)
    engine_opts.local_services.emplace(
      "wallet", actors::local_service{wallet_actor.run, true});
  wallet_actor.round = [svc = d.wallet] { return svc->run_due(); };
  wallet_actor.poll = d.cfg.wallet.poll;
  wallet_actor.workers = d.wallet_workers;
  wallet_actor.directory = d.directory;
  children.push_back(actors::blocking_service(std::move(wallet_actor)));

  // Delivery and email: download grants and links as the supervised actor
  // "delivery"; the email outbox (email.send queues, the sender sends) as
  // "email".
  auto templates = email::templates::load(d.cfg.email.templates);
  if (!templates)
    return templates.err();
  std::shared_ptr<email::transport> mail_transport;
  if (d.cfg.email.transport == "smtp") {
    email::smtp_options so;
    so.url = d.cfg.email.smtp_url;
    so.username = d.cfg.email.smtp_username;
    so.password = d.cfg.email.smtp_password;
    so.tls = d.cfg.email.smtp_tls;
    so.timeout = d.cfg.email.smtp_timeout;
    mail_transport = email::make_smtp_transport(std::move(so));
  } else {
    mail_transport = email::make_file_transport(
      std::filesystem::path{d.cfg.data_dir} / "mail");
  }
  log::info("email: {}", mail_transport->describe());
  delivery::options delivery_opts;
  delivery_opts.expires_in = d.cfg.delivery.expires_in;
  delivery_opts.max_downloads = d.cfg.delivery.max_downloads;
  delivery_opts.repeat_window = d.cfg.delivery.repeat_window;
  delivery_opts.resume_window = d.cfg.delivery.resume_window;
  delivery_opts.links_per_hour = d.cfg.delivery.links_per_hour;
  delivery_opts.licence_keys_low = d.cfg.delivery.licence_keys_low;
  delivery_opts.public_url = [this] { return with_slash(url()); };
  delivery_opts.from = d.cfg.email.from;
  delivery_opts.shop_name = d.cfg.email.shop_name;
  delivery_opts.log_links = d.cfg.email.transport == "files";
  // A receipt reads the order's licence keys only if its flow (the version
  // it was pinned to) gives any: downloads' receipts read nothing more.
  delivery_opts.gives_keys
    = [flows = d.flows](const persistence::order_row& o) {
        auto tpl = flows->pinned(o.flow_hash);
        return !tpl || !licence_pools(**tpl).empty();
      };
  email::sender_options mail_opts;
  mail_opts.envelope_from = email::address_of(d.cfg.email.from);
  mail_opts.retry_initial = d.cfg.email.retry_initial;
  mail_opts.retry_max = d.cfg.email.retry_max;
  mail_opts.retry_for = d.cfg.email.retry_for;
  // Each round claims a few messages and sends them one after another; the
  // claim outlasts the round even if every send runs to the SMTP timeout,
  // so no other sender takes a message this one may still be sending.
  mail_opts.batch = email_batch;
  // Writing a file takes no SMTP timeout.
  auto send_bound = d.cfg.email.transport == "smtp" ? d.cfg.email.smtp_timeout
                                                    : file_send_bound;
  mail_opts.lease
    = send_bound * static_cast<int64_t>(email_batch) + std::chrono::seconds{30};
  mail_opts.after_send = d.ext.email_after_send;
  // A receipt is queued already leased to this node and handed to a sender
  // in memory, so no sender spends a claim (a write) on it. Its lease leaves
  // it `handoff_wait` to wait for a sender before a round's full lease
  // starts; if this node dies first, another claims it when the lease ends.
  delivery_opts.email_lease = mail_opts.lease + handoff_wait;
  d.mail = std::make_shared<email::sender>(d.db, std::move(mail_transport),
                                           std::move(mail_opts));
  delivery_opts.on_email_queued
    = [dir = d.directory, mail = std::weak_ptr<email::sender>{d.mail}](
        const persistence::email_row& e) {
        if (auto m = mail.lock())
          m->hand(e);
        actors::nudge(*dir, "email");
      };
  d.delivery = std::make_shared<delivery::service>(
    d.db, std::make_shared<const email::templates>(std::move(*templates)),
    std::move(delivery_opts));
  d.delivery_workers = std::make_shared<worker_pool>(2);
  // `email.senders` rounds of sends at once, each on its own thread and
  // SMTP connection, plus one thread so that senders held up by a slow or
  // unreachable server never keep `email.send` steps, which only queue,
  // waiting past their step timeout.
  d.email_workers = std::make_shared<worker_pool>(d.cfg.email.senders + 1);
  // `licence.issue_key` too: keys are the order's access, like its grants.
  for (auto name : {"delivery", "email", "licence"}) {
    engine_opts.services.insert(name);
    actors::blocking_service_options o;
    o.name = name;
    o.run = [svc = d.delivery](const actors::action_call& c) {
      return svc->run_action(c.action, c.order_id, c.params, c.idempotency_key,
                             &c.order);
    };
    if (d.cfg.orders.inline_steps)
      engine_opts.local_services.emplace(name, actors::local_service{o.run});
    if (std::string_view{name} == "email") {
      o.round = [mail = d.mail] { return mail->run_due(); };
      o.batch = email_batch;
      o.rounds_at_once = d.cfg.email.senders;
      o.poll = d.cfg.email.poll;
      o.workers = d.email_workers;
    } else {
      o.workers = d.delivery_workers;
    }
    o.directory = d.directory;
    children.push_back(actors::blocking_service(std::move(o)));
  }

  // Housekeeping: rows kept only for a while (expired sessions, old
  // Idempotency-Keys, forgotten login failures) deleted hourly, in small
  // batches, as the supervised actor "housekeeping". Every node runs it;
  // deleting the same rows twice is harmless.
  d.store = storage::make_local_store(std::filesystem::path{d.cfg.data_dir}
                                      / "files");
  {
    d.housekeeping_workers = std::make_shared<worker_pool>(1);
    actors::blocking_service_options o;
    o.name = "housekeeping";
    o.batch = housekeeping_batch;
    // An upload may take up to the read timeout between chunks.
    auto grace = std::max<std::chrono::system_clock::duration>(
      d.cfg.storage.orphan_grace, 2 * d.cfg.http.read_timeout);
    std::chrono::system_clock::duration orphan_quarantine
      = d.cfg.storage.orphans_kept_for;
    auto last_sweep = std::make_shared<std::chrono::system_clock::time_point>();
    o.round = [db = d.db, store = d.store, auth = d.cfg.auth,
               pay = d.cfg.payments, grace, orphan_quarantine, last_sweep] {
      auto t = now();
      persistence::prune_before before;
      before.sessions_expired = to_iso(t - auth.sessions_kept_for);
      before.throttle_failed = to_iso(t - auth.login_failures_kept_for);
      before.idempotency_created = to_iso(t - pay.idempotency_keys_kept_for);
      before.now = to_iso(t);
      auto done = persistence::prune(*db, before, housekeeping_batch);
      if (!done) {
        log::warn("housekeeping: {}", done.err().detail);
        return size_t{0};
      }
      if (done->total() > 0)
        log::info("housekeeping: deleted {} expired sessions, {} "
                  "Idempotency-Keys, {} login throttles",
                  done->sessions, done->idempotency_keys, done->throttles);
      // Bytes no product file names (an upload that crashed between
      // committing its blob and recording it, or in the middle): once an
      // hour, not at every round of a backlog of rows.
      auto wall = std::chrono::system_clock::now();
      if (wall - *last_sweep >= std::chrono::hours{1}) {
        *last_sweep = wall;
        auto swept = storage::remove_orphans(
          *store,
          [&] {
            return persistence::product_file_repository{*db}.storage_keys();
          },
          wall - grace, wall - orphan_quarantine);
        if (!swept)
          log::error("housekeeping: files: {}", swept.err().detail);
        else if (swept->quarantined + swept->abandoned + swept->expired > 0)
          log::info("housekeeping: moved {} stored files no product names "
                    "to files/orphaned, removed {} abandoned uploads and {} "
                    "files quarantined long enough",
                    swept->quarantined, swept->abandoned, swept->expired);
      }
      // A full batch of any kind: more are due, run again at once.
      return static_cast<size_t>(
        std::max({done->sessions, done->idempotency_keys, done->throttles}));
    };
    o.poll = std::chrono::hours{1};
    o.workers = d.housekeeping_workers;
    o.directory = d.directory;
    children.push_back(actors::blocking_service(std::move(o)));
  }

  engine_opts.metrics = d.metrics;
  // A payment whose webhook was lost is looked up before its order's wait
  // runs out, on the gateway's threads (the timer may fire after). While
  // the gateway does not answer, the expiry waits (the timer is claimed
  // again when its lease runs out), for at most `expiry_hold`.
  engine_opts.before_timer
    = [svc = d.payments, workers = d.gateway_workers](
        const persistence::timer_row& t, std::function<void()> fire) {
        if (t.event != "payment.expired")
          return fire();
        workers->post([svc, t, fire = std::move(fire)] {
          auto due = parse_iso(t.due_at);
          bool overdue = !due || now() - *due > expiry_hold;
          if (svc->confirm_before_expiry(t.order_id) || overdue)
            return fire();
          log::warn("order {}: payment.expired held: the gateway did not "
                    "answer; asking again when the timer's claim runs out",
                    t.order_id);
        });
      };
  engine_opts.on_change
    = [watch = d.order_watch](const std::string& id) { watch->notify(id); };
  d.engine = std::make_unique<actors::order_engine>(
    d.runtime->system(), d.db, d.flows, d.directory, std::move(engine_opts));
  for (auto& child : d.engine->children())
    children.push_back(std::move(child));
  d.runtime->adopt(actors::spawn_supervisor(d.runtime->system(), policy,
                                            std::move(children), d.board));

  add_collectors(*d.metrics, d.db, d.flows, d.board);
  auto http_opts = server_options_of(d.cfg);
  http_opts.on_response
    = [m = d.metrics](std::string_view method, std::string_view route,
                      int status, double seconds, bool held) {
        m->http_request(method, route, status, seconds, held);
      };
  d.server = std::make_unique<http::server>(std::move(http_opts), d.routes);
  d.workers = std::make_shared<worker_pool>(d.cfg.auth.hash_threads);
  auto svc = std::make_shared<http::services>();
  svc->db = d.db;
  svc->board = d.board;
  svc->workers = d.workers;
  svc->accounts = std::make_shared<accounts::service>(
    d.db, accounts::policy_of(d.cfg.auth));
  svc->catalog = products;
  // A stored file shows in the product's document: drop the cached one.
  svc->on_product_changed
    = [catalog = svc->catalog](const std::string& id) { catalog->forget(id); };
  svc->auth_limiter = std::make_shared<http::rate_limiter>(
    d.cfg.auth.rate_limit_per_minute, d.cfg.auth.rate_limit_burst);
  svc->secure_cookies = d.cfg.public_url.starts_with("https://");
  svc->store = d.store;
  svc->max_upload = d.cfg.storage.max_upload;
  svc->node_id = d.id;
  svc->draining = [srv = d.server.get()] { return srv->draining(); };
  svc->payments = d.payments;
  svc->payouts = d.payouts;
  svc->delivery = d.delivery;
  svc->accel_redirect = d.cfg.delivery.accel_redirect;
  svc->gateway_workers = d.gateway_workers;
  svc->on_gateway_event
    = [dir = d.directory] { actors::nudge(*dir, "payment"); };
  svc->deliver_event
    = [this](const std::string& id, const std::string& event,
             const std::string& actor, const std::string& detail,
             const std::string& dedup_key) -> expected<std::string> {
    orders::event_input in{event, actor, detail, dedup_key};
    in.record_if_ignored = false; // a refused request leaves nothing behind
    auto out = impl_->engine->deliver_wait(id, std::move(in));
    if (!out)
      return out.err();
    return std::string{orders::to_string(*out)};
  };
  svc->metrics = d.metrics;
  svc->flows = d.flows;
  svc->order_watch = d.order_watch;
  svc->survey = [this] { return impl_->engine->survey_wait(); };
  svc->peek
    = [this](const std::string& id) { return impl_->engine->peek_wait(id); };
  http::add_routes(d.routes, svc);
  // The web pages, over the API just registered.
  pages::options page_opts;
  page_opts.secure_cookies = svc->secure_cookies;
  page_opts.public_origin = origin_of(d.cfg.public_url);
  page_opts.shop_name = d.cfg.email.shop_name;
  page_opts.keyed_flows = catalog_opts.keyed_flows;
  page_opts.templates = d.cfg.pages.templates;
  page_opts.file_and_key_flows = catalog_opts.file_and_key_flows;
  page_opts.flows = std::move(flow_choices);
  if (d.cfg.payments.gateway != "sandbox") {
    // The buy form leads on to the gateway's hosted page.
    page_opts.form_origins.push_back(
      origin_of(d.cfg.payments.paystack_base_url));
    page_opts.form_origins.push_back("https://checkout.paystack.com");
  }
  auto link_page = pages::add_routes(d.routes, page_opts);
  if (!link_page)
    return link_page.err();
  svc->link_page = *link_page;
  if (auto err = d.server->start())
    return err;
  if (d.sandbox) {
    d.sandbox->set_public_url(with_slash(url()) + "sandbox");
    d.sandbox->set_webhook_url(with_slash(url()) + "api/v1/webhooks/paystack");
    log::info("payments: the built-in sandbox gateway at {}sandbox",
              with_slash(url()));
  }
  log::info("node {} listening on {}", d.id, url());
  return {};
}

actors::order_engine& node::engine() {
  return *impl_->engine;
}

bool node::fenced() const {
  return impl_->fenced.load();
}

const std::string& node::id() const {
  return impl_->id;
}

std::string node::url() const {
  auto& d = *impl_;
  if (!d.cfg.public_url.empty())
    return d.cfg.public_url;
  auto host = d.cfg.listen.substr(0, d.cfg.listen.rfind(':'));
  if (host == "0.0.0.0" || host.empty())
    host = "127.0.0.1";
  else if (host == "::" || host == "[::]")
    host = "[::1]";
  return fmt::format("http://{}:{}/", host,
                     d.server ? d.server->port() : uint16_t{0});
}

void node::stop() {
  auto& d = *impl_;
  if (d.stopped)
    return;
  d.stopped = true;
  if (d.sandbox)
    d.sandbox->stop();
  // Long polls answer now (304 unless their order changed), so that they
  // do not hold the server's grace period.
  d.order_watch->close();
  if (d.server)
    d.server->shutdown(d.cfg.http.shutdown_grace);
  if (d.gateway_workers)
    d.gateway_workers->shutdown();
  if (d.payment_workers)
    d.payment_workers->shutdown();
  if (d.wallet_workers)
    d.wallet_workers->shutdown();
  if (d.delivery_workers)
    d.delivery_workers->shutdown();
  if (d.email_workers)
    d.email_workers->shutdown();
  if (d.housekeeping_workers)
    d.housekeeping_workers->shutdown();
  if (d.workers)
    d.workers->shutdown();
  if (d.runtime)
    d.runtime->shutdown();
  // Rows written leased to this node and not worked on: any node may take
  // them now, rather than when their leases run out.
  if (d.payments)
    d.payments->release_handed();
  if (d.mail)
    d.mail->release_handed();
  if (d.db && d.registered)
    if (auto err = persistence::node_repository{*d.db}.mark_stopped(d.id))
      log::warn("could not mark node stopped: {}", err.detail);
  if (d.db)
    d.db->shutdown();
}

} // namespace souk
