#include "souk/persistence/housekeeping.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

// One kind: the rows the subquery picks, at most `limit` of them. The same
// text serves PostgreSQL and SQLite (both take a LIMIT in a subquery).
// Values bind in the order they appear in the text.
template<class... Uses>
expected<int64_t> delete_some(database& db, const std::string& text,
                              Uses&&... uses) {
  int64_t n = 0;
  auto st = db.write([&](soci::session& sql) {
    n = rows::exec(sql, text, std::forward<Uses>(uses)...);
  });
  if (st)
    return st;
  return n;
}

} // namespace

expected<pruned> prune(database& db, const prune_before& before,
                       int64_t limit) {
  pruned out;
  long long lim = limit;
  auto sessions
    = delete_some(db,
                  "DELETE FROM sessions WHERE id IN (SELECT id "
                  "FROM sessions WHERE expires_at < :cut LIMIT "
                  ":lim)",
                  soci::use(before.sessions_expired), soci::use(lim));
  if (!sessions)
    return sessions.err();
  out.sessions = *sessions;
  // A key still held by a request (status 'started', lock not run out)
  // stays whatever its age: that request's answer is still to be stored.
  auto keys = delete_some(
    db,
    "DELETE FROM idempotency_keys WHERE (scope, idem_key) IN (SELECT scope, "
    "idem_key FROM idempotency_keys WHERE created_at < :cut AND (status = "
    "'done' OR locked_until < :now) LIMIT :lim)",
    soci::use(before.idempotency_created), soci::use(before.now),
    soci::use(lim));
  if (!keys)
    return keys.err();
  out.idempotency_keys = *keys;
  auto throttles = delete_some(
    db,
    "DELETE FROM login_throttle WHERE email IN (SELECT email FROM "
    "login_throttle WHERE last_failure_at < :cut AND (blocked_until IS NULL "
    "OR blocked_until < :now) LIMIT :lim)",
    soci::use(before.throttle_failed), soci::use(before.now), soci::use(lim));
  if (!throttles)
    return throttles.err();
  out.throttles = *throttles;
  return out;
}

} // namespace souk::persistence
