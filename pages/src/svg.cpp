#include "svg.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <fmt/format.h>

#include "souk/core/units.hpp"

namespace souk::pages {

namespace {

using nlohmann::json;

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

} // namespace

std::string earnings_chart(const json& series) {
  const double w = 640, h = 220, left = 8, right = 8, top = 24, bottom = 28;
  std::string currency = series.value("currency", "");
  auto points = series.value("points", json::array());
  if (points.empty())
    return {};
  int64_t hi = 0;
  int64_t lo = 0;
  for (auto& p : points) {
    hi = std::max(hi, p.value("earnings", int64_t{0}));
    lo = std::min(lo, p.value("earnings", int64_t{0}));
  }
  if (hi == lo)
    hi = lo + 100;
  double plot_h = h - top - bottom;
  double scale = plot_h / static_cast<double>(hi - lo);
  double zero = top + static_cast<double>(hi) * scale;
  double step = (w - left - right) / static_cast<double>(points.size());
  auto totals = series.value("totals", json::object());
  auto title = fmt::format("Earnings per day in {}", currency);
  auto desc = fmt::format(
    "{} sales from {} to {}: {} earned after fees and refunds.",
    totals.value("sales", int64_t{0}), points.front().value("start", ""),
    points.back().value("start", ""),
    format_money(totals.value("earnings", int64_t{0}), currency));
  auto id = "chart-" + esc(currency);
  std::string out = fmt::format(
    "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" "
    "aria-labelledby=\"{}-t {}-d\" xmlns=\"http://www.w3.org/2000/svg\">"
    "<title id=\"{}-t\">{}</title><desc id=\"{}-d\">{}</desc>",
    w, h, id, id, id, esc(title), id, esc(desc));
  out += fmt::format("<text x=\"{}\" y=\"14\" font-size=\"12\" "
                     "fill=\"#545d68\">{}</text>",
                     left, esc(format_money(hi, currency)));
  out += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" "
                     "stroke=\"#8a939e\" stroke-width=\"1\"/>",
                     left, zero, w - right, zero);
  for (size_t i = 0; i < points.size(); ++i) {
    auto& p = points[i];
    auto e = p.value("earnings", int64_t{0});
    double bar = static_cast<double>(std::abs(e)) * scale;
    double x = left + static_cast<double>(i) * step + step * 0.15;
    double y = e >= 0 ? zero - bar : zero;
    out += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
      "fill=\"{}\"><title>{}: {} ({} sale{})</title></rect>",
      x, y, std::max(step * 0.7, 1.0), std::max(bar, e == 0 ? 0.0 : 1.0),
      e >= 0 ? "#0b5d3b" : "#a4161a", esc(p.value("start", "")),
      esc(format_money(e, currency)), p.value("sales", int64_t{0}),
      p.value("sales", int64_t{0}) == 1 ? "" : "s");
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" "
                     "fill=\"#545d68\">{}</text>",
                     left, h - 8, esc(points.front().value("start", "")));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" "
                     "fill=\"#545d68\" text-anchor=\"end\">{}</text>",
                     w - right, h - 8, esc(points.back().value("start", "")));
  out += "</svg>";
  return out;
}

std::string flow_diagram(const json& flow) {
  const double box_w = 156, box_h = 52, col = 212, row = 84, pad = 16;
  auto states = flow.value("states", json::array());
  std::string initial = flow.value("initial", "");
  std::map<std::string, const json*> by_name;
  for (auto& s : states)
    by_name[s.value("name", "")] = &s;
  // Columns: distance from the initial state; states nothing leads to go
  // after the others.
  std::map<std::string, int> layer;
  std::deque<std::string> todo;
  if (by_name.count(initial)) {
    layer[initial] = 0;
    todo.push_back(initial);
  }
  while (!todo.empty()) {
    auto name = todo.front();
    todo.pop_front();
    auto on = by_name[name]->value("on", json::object());
    for (auto& [event, target] : on.items()) {
      if (!target.is_string())
        continue;
      auto t = target.get<std::string>();
      if (by_name.count(t) && !layer.count(t)) {
        layer[t] = layer[name] + 1;
        todo.push_back(t);
      }
    }
  }
  int deepest = 0;
  for (auto& [n, l] : layer)
    deepest = std::max(deepest, l);
  for (auto& s : states)
    if (!layer.count(s.value("name", "")))
      layer[s.value("name", "")] = deepest + 1;
  std::map<int, int> filled;
  std::map<std::string, std::pair<double, double>> at;
  int rows = 0;
  int cols = 0;
  for (auto& s : states) {
    auto name = s.value("name", "");
    int l = layer[name];
    int r = filled[l]++;
    rows = std::max(rows, r + 1);
    cols = std::max(cols, l + 1);
    at[name] = {pad + l * col, pad + r * row};
  }
  double w = pad * 2 + (cols - 1) * col + box_w;
  double h = pad * 2 + (rows - 1) * row + box_h + 24;
  auto name = flow.value("name", "");
  auto id = "flow-" + esc(name);
  std::string out = fmt::format(
    "<svg class=\"diagram\" viewBox=\"0 0 {} {}\" width=\"{}\" role=\"img\" "
    "aria-labelledby=\"{}-t\" xmlns=\"http://www.w3.org/2000/svg\">"
    "<title id=\"{}-t\">States of flow {} version {}, with the orders in "
    "each</title>"
    "<defs><marker id=\"{}-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
    "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
    "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#545d68\"/></marker></defs>",
    w, h, w, id, id, esc(name), flow.value("version", 0), id);
  // Arrows first, boxes over them.
  std::set<std::pair<std::string, std::string>> drawn;
  std::map<std::pair<std::string, std::string>, std::string> labels;
  for (auto& s : states) {
    auto from = s.value("name", "");
    auto on = s.value("on", json::object());
    for (auto& [event, target] : on.items()) {
      if (!target.is_string() || !at.count(target.get<std::string>()))
        continue;
      auto& l = labels[{from, target.get<std::string>()}];
      l += (l.empty() ? "" : ", ") + event;
    }
  }
  for (auto& [edge, label] : labels) {
    auto [fx, fy] = at[edge.first];
    auto [tx, ty] = at[edge.second];
    std::string path;
    double lx = 0;
    double ly = 0;
    if (edge.first == edge.second) {
      path = fmt::format("M{:.0f},{:.0f} c30,-40 60,-40 40,0", fx + box_w - 40,
                         fy);
      lx = fx + box_w - 20;
      ly = fy - 22;
    } else if (tx > fx) {
      double x1 = fx + box_w;
      double y1 = fy + box_h / 2;
      double x2 = tx;
      double y2 = ty + box_h / 2;
      path = fmt::format("M{:.0f},{:.0f} C{:.0f},{:.0f} {:.0f},{:.0f} "
                         "{:.0f},{:.0f}",
                         x1, y1, (x1 + x2) / 2, y1, (x1 + x2) / 2, y2, x2, y2);
      lx = (x1 + x2) / 2;
      ly = (y1 + y2) / 2 - 4;
    } else {
      // Back or sideways: around underneath.
      double x1 = fx + box_w / 2;
      double y1 = fy + box_h;
      double x2 = tx + box_w / 2;
      double y2 = ty + box_h;
      double dip = std::max(y1, y2) + 22;
      path = fmt::format("M{:.0f},{:.0f} C{:.0f},{:.0f} {:.0f},{:.0f} "
                         "{:.0f},{:.0f}",
                         x1, y1, x1, dip, x2, dip, x2, y2);
      lx = (x1 + x2) / 2;
      ly = dip + 2;
    }
    out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#545d68\" "
                       "stroke-width=\"1.2\" marker-end=\"url(#{}-arrow)\"/>",
                       path, id);
    out += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"10\" "
                       "text-anchor=\"middle\" fill=\"#1b1f24\">{}</text>",
                       lx, ly, esc(label));
  }
  for (auto& s : states) {
    auto n = s.value("name", "");
    auto [x, y] = at[n];
    auto count = s.value("orders", int64_t{0});
    bool terminal = s.value("terminal", false);
    out += fmt::format(
      "<g class=\"state\" data-state=\"{}\"><rect x=\"{:.0f}\" y=\"{:.0f}\" "
      "width=\"{}\" height=\"{}\" rx=\"8\" fill=\"{}\" stroke=\"{}\" "
      "stroke-width=\"{}\"/>",
      esc(n), x, y, box_w, box_h,
      count > 0 ? (n == "needs_attention" ? "#fdecec" : "#e6f4ec") : "#ffffff",
      n == initial ? "#0b5d3b" : "#8a939e", n == initial || terminal ? 2.5 : 1);
    out += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"13\" "
                       "font-weight=\"600\" text-anchor=\"middle\" "
                       "fill=\"#1b1f24\">{}</text>",
                       x + box_w / 2, y + 21, esc(n));
    out += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"12\" "
                       "text-anchor=\"middle\" fill=\"#1b1f24\" "
                       "class=\"count\">{} order{}</text></g>",
                       x + box_w / 2, y + 40, count, count == 1 ? "" : "s");
  }
  out += "</svg>";
  return out;
}

} // namespace souk::pages
