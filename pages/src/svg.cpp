#include "svg.hpp"

namespace souk::pages {

std::string earnings_chart(const nlohmann::json&) {
  return {};
}
std::string flow_diagram(const nlohmann::json&) {
  return {};
}

} // namespace souk::pages
