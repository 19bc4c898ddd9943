#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace souk {
template<class Row>
class handoff;
} // namespace souk

namespace souk::persistence {
class database;
struct email_row;
} // namespace souk::persistence

namespace souk::email {

class transport;

struct sender_options {
  /// The envelope sender (the address of `email.from`).
  std::string envelope_from = "souk@localhost";
  /// A failed send is tried again after retry_initial, doubling up to
  /// retry_max; after retry_for since the email was queued it is given up
  /// (`failed`, with the last error).
  std::chrono::milliseconds retry_initial{30'000};
  std::chrono::milliseconds retry_max{60 * 60'000};
  std::chrono::milliseconds retry_for{72ll * 3600'000};
  /// How long a node's claim on an email lasts (longer than a round's
  /// sends). A handed row (`hand`) is sent only while at least this much of
  /// its lease is left, as if it had just been claimed.
  std::chrono::milliseconds lease{120'000};
  size_t batch = 20;
  /// Tests only: called after the transport accepted a message and before
  /// that is recorded; returning false stops the round there, as a process
  /// dying at that moment would.
  std::function<bool(const persistence::email_row&)> after_send;
};

/// Sends what the email outbox holds: claims due rows (several nodes may
/// run senders), hands each to the transport, records the outcome. A crash
/// between the hand-over and the record sends the same message again, with
/// the same Message-ID, once the claim runs out. Thread-safe; blocking.
class sender {
public:
  sender(std::shared_ptr<persistence::database> db,
         std::shared_ptr<transport> t, sender_options opts);
  ~sender();

  /// Takes an email just queued already leased to this process (until its
  /// `claimed_until`), so that a round sends it without claiming it again.
  /// False when it carries no lease, or too many wait: the row is left to
  /// the usual claim (once its lease has run out).
  bool hand(persistence::email_row e);

  /// Sends the emails handed to it, or else claims due ones; returns how
  /// many it handled.
  size_t run_due();

  /// Gives up the leases of the emails handed to it and not taken yet, so
  /// that another node (or this one, started again) sends them at once. For
  /// a graceful stop, once no round runs.
  void release_handed();

  const transport& via() const { return *transport_; }

private:
  std::shared_ptr<persistence::database> db_;
  std::shared_ptr<transport> transport_;
  sender_options opts_;
  std::unique_ptr<handoff<persistence::email_row>> handed_;
};

} // namespace souk::email
