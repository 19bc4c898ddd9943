#include "souk/email/sender.hpp"

#include <algorithm>

#include "souk/core/handoff.hpp"
#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/email/transport.hpp"
#include "souk/persistence/deliveries.hpp"

namespace souk::email {

sender::sender(std::shared_ptr<persistence::database> db,
               std::shared_ptr<transport> t, sender_options opts)
  : db_(std::move(db)), transport_(std::move(t)), opts_(std::move(opts)),
    handed_(std::make_unique<handoff<persistence::email_row>>()) {}

sender::~sender() = default;

bool sender::hand(persistence::email_row e) {
  auto until = parse_iso(e.claimed_until);
  return until && handed_->give(std::move(e), *until);
}

void sender::release_handed() {
  persistence::delivery_repository repo{*db_};
  for (auto& e : handed_->take_all())
    if (auto err = repo.release_email(e.id, e.claimed_until))
      log::warn("email {}: could not give up its lease ({}); it goes out "
                "once the lease has run out",
                e.id, err.detail);
}

size_t sender::run_due() {
  persistence::delivery_repository repo{*db_};
  auto start = now();
  // Emails handed over as they were queued are leased already; only when
  // none wait is the outbox claimed from.
  auto claimed = expected<std::vector<persistence::email_row>>{
    handed_->take(opts_.batch, start + opts_.lease)};
  if (claimed->empty())
    claimed = repo.claim_emails(to_iso(start), to_iso(start + opts_.lease),
                                opts_.batch);
  if (!claimed) {
    log::warn("email: cannot claim due emails: {}", claimed.err().detail);
    return 0;
  }
  size_t done = 0;
  for (auto& e : *claimed) {
    log::logger lg{{{"email", e.id}}};
    if (!e.order_id.empty())
      lg = lg.with("order_id", e.order_id);
    status sent;
    if (e.message.empty())
      sent = error{errc::invalid_field, "the stored message is empty"};
    else
      sent = transport_->send(
        {e.id, opts_.envelope_from, e.recipient, e.message_id, e.message});
    auto t = now();
    if (!sent) {
      if (opts_.after_send && !opts_.after_send(e))
        return done; // "crashed": nothing recorded
      if (auto err = repo.email_sent(e.id, to_iso(t)))
        lg.warn("email {} went out but could not be recorded ({}); it will "
                "be sent again with the same Message-ID",
                e.message_id, err.detail);
      else
        lg.info("email {} ({}) to {} sent via {}", e.message_id,
                e.template_name, e.recipient, transport_->describe());
      ++done;
      continue;
    }
    auto queued = parse_iso(e.created_at);
    bool too_old = queued && t - *queued >= opts_.retry_for;
    bool give_up = sent.code == errc::invalid_field || too_old;
    auto shift = std::min<int64_t>(e.attempts, 20);
    auto delay
      = std::min(opts_.retry_initial * (int64_t{1} << shift), opts_.retry_max);
    if (auto err = repo.email_failed(e.id, sent.detail, to_iso(t + delay),
                                     give_up, to_iso(t)))
      lg.warn("email {}: could not record a failed send: {}", e.id, err.detail);
    if (give_up)
      lg.error("email {} ({}) to {} given up after {} attempt(s): {}",
               e.message_id, e.template_name, e.recipient, e.attempts + 1,
               sent.detail);
    else
      lg.warn("email {} to {} not sent (attempt {}), trying again in {} ms: "
              "{}",
              e.message_id, e.recipient, e.attempts + 1, delay.count(),
              sent.detail);
    ++done;
  }
  return done;
}

} // namespace souk::email
