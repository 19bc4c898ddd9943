// soukctl: the operator's tool. See `soukctl --help`.

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/accounts/service.hpp"
#include "souk/config/cli.hpp"
#include "souk/core/ids.hpp"
#include "souk/flows/template.hpp"
#include "souk/persistence/accounts.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"

#include "backup.hpp"
#include "remote.hpp"

namespace {

constexpr const char* usage
  = "usage: soukctl [options] COMMAND\n"
    "\n"
    "Commands on a running soukd (its admin API; an operator's token in\n"
    "SOUK_ADMIN_TOKEN or --token, the URL in SOUK_ADMIN_URL or --url):\n"
    "  actors [--passivated] [--state S] [--flow F] [--kind order|service]\n"
    "         [--limit N]\n"
    "                live actors: state, time in state, mailbox, step,\n"
    "                restarts, last error; --passivated: orders with work\n"
    "                left and no actor\n"
    "  order ID [--log FILE|-]\n"
    "                the order's record and timeline; with --log, the log\n"
    "                lines naming the order merged in by time\n"
    "  orders [--email E] [--state S] [--product ID] [--limit N]\n"
    "                buyers' orders, newest first (50 unless --limit): find\n"
    "                a buyer's by the email they paid with\n"
    "  flows         loaded flow templates with orders per state\n"
    "  retry ID      resume an order parked in needs_attention\n"
    "  cancel ID     cancel an order through its flow\n"
    "  fulfil ID     deliver an order parked because its payment came after\n"
    "                it had given up waiting, as if it had come in time\n"
    "  refund ID [--amount MINOR]\n"
    "                refund an order through its flow (also an order parked\n"
    "                because its payment came late)\n"
    "                (retry, cancel, fulfil and refund take --reason TEXT)\n"
    "\n"
    "Commands on the database or files:\n"
    "  admin create --email EMAIL [--password-stdin]\n"
    "                create an operator account; without --password-stdin a\n"
    "                strong password is generated and printed once\n"
    "  admin key --email EMAIL [--name NAME]\n"
    "                a new API key for an operator (for soukctl and\n"
    "                Prometheus), printed once\n"
    "  flow validate FILE\n"
    "                check a flow template (exit 2 with FILE:LINE:COL if bad)\n"
    "  flow graph NAME [--templates DIR]\n"
    "                print flow NAME (DIR/NAME.yaml, DIR defaults to\n"
    "                templates/flows) as a Graphviz digraph\n"
    "  backup DIR    copy the database and the stored files into the new\n"
    "                directory DIR, consistently while soukd runs, and check\n"
    "                the copy (PostgreSQL: needs pg_dump)\n"
    "  restore DIR   put a backup back, soukd stopped, into the empty\n"
    "                database and data directory of the config, and check\n"
    "                it (PostgreSQL: needs pg_restore)\n"
    "  ledger check  prove the ledger: debits equal credits per currency,\n"
    "                every balance equals its entries, no protected account\n"
    "                negative (exit 1 and each problem if not)\n"
    "  migrate       apply pending database migrations\n"
    "  migrations    show applied and pending migrations\n"
    "  version       print the version\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 bad usage or config, 3 no or bad\n"
    "operator token, 4 soukd unreachable.\n"
    "\n"
    "Options (the database comes from the same config as soukd's):\n";

constexpr const char* own_switches
  = "  --json                 machine-readable output\n"
    "  --url URL              the admin API (default SOUK_ADMIN_URL, else the\n"
    "                         config's public URL or listen address)\n"
    "  --token TOKEN          operator token (prefer SOUK_ADMIN_TOKEN)\n"
    "  --templates DIR        flow templates for `flow graph`\n"
    "  --help                 this text\n";

// Exit codes: 0 ok, 1 the operation failed, 2 bad usage or config.
int fail(int code, const std::string& msg) {
  std::cerr << "soukctl: " << msg << '\n';
  return code;
}

souk::expected<std::shared_ptr<souk::persistence::database>>
open_database(const souk::config::settings& cfg) {
  souk::persistence::database::options opts;
  opts.url = cfg.effective_database_url();
  opts.pool_size = 1;
  opts.busy_timeout = cfg.database.busy_timeout;
  opts.lock_timeout = cfg.database.lock_timeout;
  opts.idle_in_transaction_timeout = cfg.database.idle_in_transaction_timeout;
  return souk::persistence::database::open(opts);
}

int migrate(souk::persistence::database& db, bool json) {
  auto applied = souk::persistence::migrate(
    db, souk::persistence::shipped_migrations(db.kind()));
  if (!applied)
    return fail(1, applied.err().detail);
  if (json) {
    std::cout << nlohmann::json{{"applied", *applied}}.dump() << '\n';
  } else if (applied->empty()) {
    std::cout << "nothing to do: the database is up to date\n";
  } else {
    for (auto& name : *applied)
      std::cout << "applied " << name << '\n';
  }
  return 0;
}

int migrations(souk::persistence::database& db, bool json) {
  auto& shipped = souk::persistence::shipped_migrations(db.kind());
  auto state = souk::persistence::inspect(db, shipped);
  if (!state)
    return fail(1, state.err().detail);
  if (json) {
    std::cout << nlohmann::json{{"current", state->current},
                                {"latest", state->latest},
                                {"pending", state->pending},
                                {"unknown", state->unknown}}
                   .dump()
              << '\n';
    return 0;
  }
  std::cout << fmt::format("{:<8} {:<32} {}\n", "VERSION", "NAME", "STATE");
  for (auto& m : shipped) {
    bool pending
      = std::find(state->pending.begin(), state->pending.end(), m.name)
        != state->pending.end();
    std::cout << fmt::format("{:<8} {:<32} {}\n", m.version, m.name,
                             pending ? "pending" : "applied");
  }
  for (auto v : state->unknown)
    std::cout << fmt::format("{:<8} {:<32} {}\n", v, "?",
                             "applied by a newer souk");
  return 0;
}

int admin_create(const souk::config::settings& cfg,
                 std::shared_ptr<souk::persistence::database> db,
                 const std::string& email, bool password_stdin, bool json) {
  std::string password;
  bool generated = false;
  if (password_stdin) {
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r')
      password.pop_back();
  } else {
    password = souk::random_token(18); // 144 bits
    generated = true;
  }
  souk::accounts::service svc{db, souk::accounts::policy_of(cfg.auth)};
  auto u = svc.create_operator(email, password);
  if (!u) {
    auto code = u.err().code == souk::errc::invalid_field
                    || u.err().code == souk::errc::conflict
                  ? 2
                  : 1;
    return fail(code, u.err().detail);
  }
  if (json) {
    nlohmann::json doc{{"id", u->id}, {"email", u->email}, {"role", u->role}};
    if (generated)
      doc["password"] = password;
    std::cout << doc.dump() << '\n';
  } else {
    std::cout << "created operator " << u->email << " (" << u->id << ")\n";
    if (generated)
      std::cout << "password (shown once): " << password << '\n';
  }
  return 0;
}

// `admin key`: an API key for an existing operator, straight into the
// database (the bootstrap path, like `admin create`).
int admin_key(const souk::config::settings& cfg,
              std::shared_ptr<souk::persistence::database> db,
              const std::string& email, const std::string& name, bool json) {
  auto found
    = souk::persistence::account_repository{*db}.find_user_by_email(email);
  if (!found)
    return fail(1, found.err().detail);
  if (!*found || (*found)->role != souk::accounts::operator_role)
    return fail(2, "no operator " + email
                     + " (create one with `soukctl admin "
                       "create --email EMAIL`)");
  souk::accounts::principal p;
  p.who.id = (*found)->id;
  p.who.email = (*found)->email;
  p.who.role = (*found)->role;
  souk::accounts::service svc{db, souk::accounts::policy_of(cfg.auth)};
  auto made = svc.create_api_key(p, name);
  if (!made)
    return fail(made.err().code == souk::errc::invalid_field ? 2 : 1,
                made.err().detail);
  if (json)
    std::cout << nlohmann::json{{"id", made->info.id},
                                {"name", made->info.name},
                                {"key", made->key}}
                   .dump()
              << '\n';
  else
    std::cout << "api key " << made->info.id << " for " << email
              << " (shown once): " << made->key << '\n';
  return 0;
}

// `ledger check`: every problem on its own line, exit 1 if there is one.
int ledger_check(souk::persistence::database& db, bool json) {
  auto report = souk::persistence::ledger_repository{db}.check();
  if (!report)
    return fail(1, report.err().detail);
  if (json) {
    std::cout << nlohmann::json{{"accounts", report->accounts},
                                {"entries", report->entries},
                                {"ok", report->problems.empty()},
                                {"problems", report->problems}}
                   .dump()
              << '\n';
  } else {
    for (auto& p : report->problems)
      std::cout << "problem: " << p << '\n';
    std::cout << fmt::format("ledger {}: {} accounts, {} entries, {} "
                             "problem(s)\n",
                             report->problems.empty() ? "ok" : "NOT OK",
                             report->accounts, report->entries,
                             report->problems.size());
  }
  return report->problems.empty() ? 0 : 1;
}

// `flow validate FILE` and `flow graph NAME`: template checks that need no
// config or database, so authors can run them anywhere.
int flow_command(const souk::config::command_line& cli) {
  auto& words = cli.positional;
  auto sub = words.size() > 1 ? words[1] : std::string{};
  if (words.size() != 3 || (sub != "validate" && sub != "graph"))
    return fail(2, "usage: soukctl flow validate FILE | soukctl flow graph "
                   "NAME [--templates DIR]");
  auto& actions = souk::flows::default_actions();
  if (sub == "validate") {
    auto tpl = souk::flows::load_template_file(words[2], actions);
    if (!tpl)
      return fail(2, tpl.err().detail);
    std::cout << fmt::format("{}: ok (flow {} version {}, hash {})\n", words[2],
                             tpl->name, tpl->version, tpl->hash);
    return 0;
  }
  auto& name = words[2];
  // A name, not a path: it must not climb out of the templates directory.
  constexpr const char* name_chars = "abcdefghijklmnopqrstuvwxyz0123456789_";
  if (name.empty() || name.find_first_not_of(name_chars) != std::string::npos)
    return fail(2,
                fmt::format("bad flow name '{}' (expected [a-z0-9_]+)", name));
  auto dir = cli.values.count("templates") ? cli.values.at("templates")
                                           : std::string{"templates/flows"};
  auto path = (std::filesystem::path{dir} / (name + ".yaml")).string();
  auto tpl = souk::flows::load_template_file(path, actions);
  if (!tpl)
    return fail(2, tpl.err().detail);
  std::cout << souk::flows::to_dot(*tpl);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto cli = souk::config::parse_command_line(
    argc, argv, {"json", "help", "password-stdin", "passivated"},
    {"email", "templates", "name", "url", "token", "state", "flow", "kind",
     "limit", "log", "reason", "amount", "product"});
  if (!cli)
    return fail(2, cli.err().detail);
  if (cli->switches.count("help") || cli->positional.empty()) {
    std::cout << usage << souk::config::config_flags_help() << own_switches;
    return cli->switches.count("help") ? 0 : 2;
  }
  auto command = cli->positional.front();
  if (command == "version") {
    std::cout << "soukctl " << SOUK_VERSION << '\n';
    return 0;
  }
  if (command == "flow")
    return flow_command(*cli);
  if (soukctl::is_remote(command)) {
    auto cfg = souk::config::load(cli->src);
    if (!cfg)
      return fail(2, cfg.err().detail);
    return soukctl::run_remote(command, *cli, cfg->values);
  }
  bool admin = command == "admin";
  bool ledger = command == "ledger";
  bool backup = command == "backup";
  if (backup && cli->positional.size() != 2)
    return fail(2, "usage: soukctl backup DIR [--json]");
  if (command == "restore") {
    if (cli->positional.size() != 2)
      return fail(2, "usage: soukctl restore DIR [--json]");
    // Not opened first: opening a SQLite database creates its file.
    auto cfg = souk::config::load(cli->src);
    if (!cfg)
      return fail(2, cfg.err().detail);
    return soukctl::restore(cfg->values, cli->positional[1],
                            cli->switches.count("json") > 0);
  }
  if (command != "migrate" && command != "migrations" && !admin && !ledger
      && !backup)
    return fail(2, fmt::format("unknown command '{}' (see --help)", command));
  bool key
    = admin && cli->positional.size() == 2 && cli->positional[1] == "key";
  if (admin && !key
      && (cli->positional.size() != 2 || cli->positional[1] != "create"))
    return fail(2, "usage: soukctl admin create --email EMAIL "
                   "[--password-stdin] | soukctl admin key --email EMAIL "
                   "[--name NAME]");
  if (admin && !cli->values.count("email"))
    return fail(
      2, fmt::format("admin {} needs --email EMAIL", cli->positional[1]));
  if (ledger && (cli->positional.size() != 2 || cli->positional[1] != "check"))
    return fail(2, "usage: soukctl ledger check [--json]");
  if (!admin && !ledger && !backup && cli->positional.size() > 1)
    return fail(2, fmt::format("unexpected argument '{}'", cli->positional[1]));
  auto cfg = souk::config::load(cli->src);
  if (!cfg)
    return fail(2, cfg.err().detail);
  auto db = open_database(cfg->values);
  if (!db)
    return fail(1, db.err().detail);
  bool json = cli->switches.count("json") > 0;
  if (admin) {
    // The schema must be there to hold the account.
    auto applied = souk::persistence::migrate(
      **db, souk::persistence::shipped_migrations((*db)->kind()));
    if (!applied)
      return fail(1, applied.err().detail);
    if (key)
      return admin_key(cfg->values, *db, cli->values.at("email"),
                       cli->values.count("name") ? cli->values.at("name")
                                                 : std::string{"soukctl"},
                       json);
    return admin_create(cfg->values, *db, cli->values.at("email"),
                        cli->switches.count("password-stdin") > 0, json);
  }
  if (ledger)
    return ledger_check(**db, json);
  if (backup)
    return soukctl::backup(cfg->values, **db, cli->positional[1], json);
  return command == "migrate" ? migrate(**db, json) : migrations(**db, json);
}
