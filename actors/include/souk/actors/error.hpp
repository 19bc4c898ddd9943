#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "souk/core/error.hpp"

// souk's error codes travel inside CAF errors under the category "souk".
CAF_ERROR_CODE_ENUM(souk::errc, "souk")

namespace souk::actors {

/// `err` as a CAF error: code in category "souk", detail as context.
caf::error to_caf(const error& err);

/// Back from CAF: souk's own errors keep their code and detail; CAF's (a
/// request timeout, an exit reason) become `errc::timeout`/`errc::internal`
/// with CAF's rendering as detail.
error from_caf(const caf::error& err);

} // namespace souk::actors
