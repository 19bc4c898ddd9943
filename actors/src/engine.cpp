#include "souk/actors/engine.hpp"

#include <future>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "souk/actors/error.hpp"
#include "souk/orders/library.hpp"

#include "engine_context.hpp"

namespace souk::actors {

void service_directory::put(const std::string& name, caf::actor handle) {
  std::lock_guard guard{mx_};
  handles_[name] = std::move(handle);
}

caf::actor service_directory::get(std::string_view name) const {
  std::lock_guard guard{mx_};
  auto i = handles_.find(name);
  return i == handles_.end() ? caf::actor{} : i->second;
}

struct order_engine::impl {
  caf::actor_system& sys;
  std::shared_ptr<detail::engine_context> ctx;

  caf::actor manager() const {
    return ctx->services->get(detail::manager_name);
  }

  // Sends `xs` to the manager as a request from a short-lived actor and
  // hands the reply (or the error) to `done`.
  template<class T, class... Ts>
  void ask(std::chrono::milliseconds timeout,
           std::function<void(expected<T>)> done, Ts... xs) {
    auto mgr = manager();
    if (!mgr) {
      done(error{errc::unavailable, "the order manager is not running"});
      return;
    }
    sys.spawn(
      [mgr, timeout, done](caf::event_based_actor* self, Ts... args) {
        self->request(mgr, timeout, std::move(args)...)
          .then(
            [self, done](T& x) {
              done(std::move(x));
              self->quit();
            },
            [self, done](caf::error& e) {
              done(from_caf(e));
              self->quit();
            });
      },
      std::move(xs)...);
  }
};

namespace {

// Calls `start` with a callback and blocks until the callback ran (or a
// little longer than the request's own timeout).
template<class T, class Start>
expected<T> wait_for(std::chrono::milliseconds timeout, Start start) {
  auto promise = std::make_shared<std::promise<expected<T>>>();
  auto f = promise->get_future();
  start([promise](expected<T> x) { promise->set_value(std::move(x)); });
  if (f.wait_for(timeout + std::chrono::seconds{5})
      != std::future_status::ready)
    return error{errc::timeout, "no answer from the order engine"};
  return f.get();
}

} // namespace

order_engine::order_engine(caf::actor_system& sys,
                           std::shared_ptr<persistence::database> db,
                           std::shared_ptr<orders::flow_library> flows,
                           std::shared_ptr<service_directory> services,
                           engine_options opts)
  : impl_(new impl{sys, std::make_shared<detail::engine_context>()}) {
  impl_->ctx->db = std::move(db);
  impl_->ctx->flows = std::move(flows);
  impl_->ctx->services = std::move(services);
  impl_->ctx->opts = std::move(opts);
}

order_engine::~order_engine() = default;

std::vector<child_spec> order_engine::children() {
  detail::context_ptr ctx = impl_->ctx;
  auto dir = impl_->ctx->services;
  return {
    child_spec{"orders.manager",
               [ctx, dir](caf::actor_system& sys) {
                 auto h = detail::spawn_manager(sys, ctx);
                 dir->put(detail::manager_name, h);
                 return h;
               }},
    child_spec{"orders.timers",
               [ctx, dir](caf::actor_system& sys) {
                 auto h = detail::spawn_timers(sys, ctx);
                 dir->put(detail::timers_name, h);
                 return h;
               }},
  };
}

expected<orders::creation> order_engine::prepare(persistence::order_row base,
                                                 std::string_view flow) {
  auto& ctx = *impl_->ctx;
  auto tpl = ctx.flows->current(flow);
  if (!tpl)
    return tpl.err();
  if ((*tpl)->kind != base.kind)
    return error{errc::invalid_field,
                 fmt::format("flow {} is for a {}, not a {}", flow,
                             (*tpl)->kind, base.kind)};
  if (auto err = ctx.flows->pin(**tpl))
    return err;
  return orders::plan_create(**tpl, std::move(base), ctx.now(), ctx.opts.plan);
}

void order_engine::started(const orders::creation& c) {
  // An order whose first state only waits (for a payment, a date) needs no
  // actor: its timers and events activate it when they come.
  if (c.outbox.empty())
    return;
  if (auto mgr = impl_->manager())
    caf::anon_send(mgr, detail::resume_atom::value, c.order.id);
  // Without a manager the recovery sweep starts it once one runs.
}

expected<persistence::order_row>
order_engine::create(persistence::order_row base, std::string_view flow) {
  auto c = prepare(std::move(base), flow);
  if (!c)
    return c.err();
  persistence::order_repository repo{*impl_->ctx->db};
  if (auto err = repo.create(c->order, c->first_event, c->timers, c->outbox))
    return err;
  started(*c);
  return c->order;
}

void order_engine::deliver(std::string order_id, orders::event_input in,
                           std::function<void(expected<orders::outcome>)> done,
                           std::chrono::milliseconds timeout) {
  impl_->ask<orders::outcome>(timeout, std::move(done),
                              detail::deliver_atom::value, std::move(order_id),
                              std::move(in));
}

void order_engine::inspect(std::string order_id,
                           std::function<void(expected<order_inspection>)> done,
                           std::chrono::milliseconds timeout) {
  impl_->ask<order_inspection>(
    timeout, std::move(done), detail::inspect_atom::value, std::move(order_id));
}

void order_engine::peek(std::string order_id,
                        std::function<void(expected<order_inspection>)> done,
                        std::chrono::milliseconds timeout) {
  impl_->ask<order_inspection>(timeout, std::move(done),
                               detail::peek_atom::value, std::move(order_id));
}

expected<order_inspection>
order_engine::peek_wait(std::string order_id,
                        std::chrono::milliseconds timeout) {
  return wait_for<order_inspection>(
    timeout, [&](auto done) { peek(std::move(order_id), done, timeout); });
}

void order_engine::survey(
  std::function<void(expected<std::vector<order_inspection>>)> done,
  std::chrono::milliseconds timeout) {
  // The manager asks each actor with a shorter timeout, so its answer (with
  // the slow ones marked) comes back before this request gives up.
  auto each = std::max(timeout / 2, std::chrono::milliseconds{1});
  impl_->ask<std::vector<order_inspection>>(timeout, std::move(done),
                                            detail::survey_atom::value,
                                            static_cast<int64_t>(each.count()));
}

void order_engine::live(
  std::function<void(expected<std::vector<std::string>>)> done,
  std::chrono::milliseconds timeout) {
  impl_->ask<std::vector<std::string>>(timeout, std::move(done),
                                       detail::list_atom::value);
}

expected<orders::outcome>
order_engine::deliver_wait(std::string order_id, orders::event_input in,
                           std::chrono::milliseconds timeout) {
  return wait_for<orders::outcome>(timeout, [&](auto done) {
    deliver(std::move(order_id), std::move(in), done, timeout);
  });
}

expected<order_inspection>
order_engine::inspect_wait(std::string order_id,
                           std::chrono::milliseconds timeout) {
  return wait_for<order_inspection>(
    timeout, [&](auto done) { inspect(std::move(order_id), done, timeout); });
}

expected<std::vector<order_inspection>>
order_engine::survey_wait(std::chrono::milliseconds timeout) {
  return wait_for<std::vector<order_inspection>>(
    timeout, [&](auto done) { survey(done, timeout); });
}

expected<std::vector<std::string>>
order_engine::live_wait(std::chrono::milliseconds timeout) {
  return wait_for<std::vector<std::string>>(
    timeout, [&](auto done) { live(done, timeout); });
}

} // namespace souk::actors
