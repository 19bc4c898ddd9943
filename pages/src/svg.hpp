#pragma once

#include <string>

#include <nlohmann/json.hpp>

// Charts and diagrams drawn on the server as inline SVG: no script, no
// external library, readable without either.
namespace souk::pages {

/// A bar chart of a sales series (`/api/v1/dashboard/sales`, one
/// currency): earnings per bucket, with the axis in major units.
std::string earnings_chart(const nlohmann::json& series);

/// A flow template (`/admin/flows` item) as a state diagram: states left to
/// right by distance from the initial state, each with its order count,
/// arrows labelled with their events.
std::string flow_diagram(const nlohmann::json& flow);

} // namespace souk::pages
