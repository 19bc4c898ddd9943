// A reader of the Prometheus text format (0.0.4), strict where the format
// is: souk's tests and soukctl read /metrics through it.

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "souk/metrics/registry.hpp"

namespace souk::metrics {

namespace {

struct parsed_sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
         || (colon && c == ':');
}

bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}

bool valid_name(std::string_view s, bool colon) {
  if (s.empty() || !name_start(s[0], colon))
    return false;
  for (auto c : s)
    if (!name_char(c, colon))
      return false;
  return true;
}

bool parse_value(std::string_view s, double& out) {
  if (s == "+Inf" || s == "Inf") {
    out = INFINITY;
    return true;
  }
  if (s == "-Inf") {
    out = -INFINITY;
    return true;
  }
  if (s == "NaN") {
    out = NAN;
    return true;
  }
  if (s.empty())
    return false;
  std::string text{s};
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// One sample line; an error message when it is not one.
std::string parse_line(std::string_view line, parsed_sample& out) {
  size_t i = 0;
  while (i < line.size() && name_char(line[i], true))
    ++i;
  out.name = std::string{line.substr(0, i)};
  if (!valid_name(out.name, true))
    return "bad metric name";
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      size_t start = i;
      while (i < line.size() && name_char(line[i], false))
        ++i;
      auto label = std::string{line.substr(start, i - start)};
      if (!valid_name(label, false) || label.starts_with("__"))
        return fmt::format("bad label name '{}'", label);
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
        return fmt::format("label '{}' needs =\"value\"", label);
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size())
            break;
          char e = line[i++];
          if (e == 'n')
            value += '\n';
          else if (e == '\\' || e == '"')
            value += e;
          else
            return fmt::format("bad escape \\{} in label '{}'", e, label);
          continue;
        }
        if (c == '\n')
          return "newline in a label value";
        value += c;
      }
      if (!closed)
        return fmt::format("unterminated value of label '{}'", label);
      if (out.labels.count(label))
        return fmt::format("label '{}' given twice", label);
      out.labels[label] = std::move(value);
      if (i < line.size() && line[i] == ',')
        ++i;
      else if (i >= line.size() || line[i] != '}')
        return "expected ',' or '}' after a label";
    }
  }
  if (i >= line.size() || line[i] != ' ')
    return "expected a space before the value";
  auto rest = line.substr(i + 1);
  auto sp = rest.find(' ');
  auto value = rest.substr(0, sp);
  if (!parse_value(value, out.value))
    return fmt::format("bad value '{}'", value);
  if (sp != std::string_view::npos) {
    auto ts = rest.substr(sp + 1);
    double t = 0;
    if (!parse_value(ts, t) || ts.find('.') != std::string_view::npos)
      return fmt::format("bad timestamp '{}'", ts);
  }
  return {};
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

struct family_state {
  std::string type;
  bool help = false;
  bool sampled = false;
  bool closed = false; // another family's samples came after ours
};

// The family a sample named `name` belongs to, given the declared types.
std::string family_of(const std::string& name,
                      const std::map<std::string, family_state>& families) {
  if (families.count(name))
    return name;
  for (auto suffix : {"_bucket", "_sum", "_count"}) {
    std::string_view n{name};
    if (n.ends_with(suffix)) {
      auto base = std::string{n.substr(0, n.size() - std::strlen(suffix))};
      auto i = families.find(base);
      if (i != families.end()
          && (i->second.type == "histogram" || i->second.type == "summary"))
        return base;
    }
  }
  return name;
}

std::string series_key(const parsed_sample& s) {
  auto key = s.name;
  for (auto& [k, v] : s.labels)
    key += '\x1f' + k + '=' + v;
  return key;
}

} // namespace

std::vector<std::string> lint(std::string_view text) {
  std::vector<std::string> problems;
  std::map<std::string, family_state> families;
  std::set<std::string> series;
  std::string current;
  // Histogram checks: buckets per (family, labels without le).
  struct hist {
    std::vector<std::pair<double, double>> buckets; // le, count
    std::optional<double> count;
    int line = 0;
  };
  std::map<std::string, hist> hists;
  if (!text.empty() && text.back() != '\n')
    problems.push_back("the text does not end with a newline");
  int n = 0;
  for (auto line : lines_of(text)) {
    ++n;
    auto at = [&](const std::string& msg) {
      problems.push_back(fmt::format("line {}: {}", n, msg));
    };
    if (line.empty())
      continue;
    if (line.starts_with('#')) {
      auto body = line.substr(1);
      if (body.starts_with(" HELP ") || body.starts_with(" TYPE ")) {
        bool is_type = body.starts_with(" TYPE ");
        auto rest = body.substr(6);
        auto sp = rest.find(' ');
        auto name = std::string{rest.substr(0, sp)};
        if (!valid_name(name, true)) {
          at(fmt::format("bad metric name '{}'", name));
          continue;
        }
        auto& f = families[name];
        if (f.sampled)
          at(fmt::format("{} for '{}' after its samples",
                         is_type ? "TYPE" : "HELP", name));
        if (is_type) {
          auto type = sp == std::string_view::npos
                        ? std::string{}
                        : std::string{rest.substr(sp + 1)};
          static const std::set<std::string> types{
            "counter", "gauge", "histogram", "summary", "untyped"};
          if (!types.count(type))
            at(fmt::format("unknown type '{}'", type));
          if (!f.type.empty())
            at(fmt::format("second TYPE for '{}'", name));
          f.type = type;
          if (type == "counter" && !name.ends_with("_total"))
            at(fmt::format("counter '{}' should end in _total", name));
        } else {
          if (f.help)
            at(fmt::format("second HELP for '{}'", name));
          f.help = true;
        }
      }
      continue;
    }
    parsed_sample s;
    if (auto err = parse_line(line, s); !err.empty()) {
      at(err);
      continue;
    }
    auto fam = family_of(s.name, families);
    auto& f = families[fam];
    if (f.closed)
      at(fmt::format("samples of '{}' are not together", fam));
    if (!current.empty() && current != fam)
      families[current].closed = true;
    current = fam;
    f.sampled = true;
    if (f.type.empty())
      at(fmt::format("sample of '{}' without a TYPE line", fam));
    if (!series.insert(series_key(s)).second)
      at(fmt::format("duplicate series {}", s.name));
    if (f.type == "counter" && (std::isnan(s.value) || s.value < 0))
      at(fmt::format("counter '{}' is negative or NaN", s.name));
    if (f.type == "histogram") {
      auto base = s.labels;
      base.erase("le");
      parsed_sample key{fam, base, 0};
      auto& h = hists[series_key(key)];
      h.line = n;
      if (s.name == fam + "_bucket") {
        auto le = s.labels.find("le");
        double bound = 0;
        if (le == s.labels.end() || !parse_value(le->second, bound))
          at("a histogram bucket needs a numeric 'le' label");
        else
          h.buckets.emplace_back(bound, s.value);
      } else if (s.name == fam + "_count") {
        h.count = s.value;
      } else if (s.name != fam + "_sum") {
        at(fmt::format("'{}' is not a histogram series of '{}'", s.name, fam));
      }
    }
  }
  for (auto& [key, h] : hists) {
    auto where = fmt::format("histogram ending on line {}", h.line);
    for (size_t i = 1; i < h.buckets.size(); ++i)
      if (h.buckets[i].first <= h.buckets[i - 1].first
          || h.buckets[i].second < h.buckets[i - 1].second)
        problems.push_back(where + ": buckets not cumulative and ascending");
    if (h.buckets.empty() || !std::isinf(h.buckets.back().first))
      problems.push_back(where + ": no +Inf bucket");
    else if (!h.count || *h.count != h.buckets.back().second)
      problems.push_back(where + ": +Inf bucket differs from _count");
  }
  return problems;
}

std::optional<double> sum_of(std::string_view text, std::string_view name,
                             const std::map<std::string, std::string>& labels) {
  std::optional<double> total;
  for (auto line : lines_of(text)) {
    if (line.empty() || line.starts_with('#') || !line.starts_with(name))
      continue;
    parsed_sample s;
    if (!parse_line(line, s).empty() || s.name != name)
      continue;
    bool match = true;
    for (auto& [k, v] : labels) {
      auto i = s.labels.find(k);
      match = match && i != s.labels.end() && i->second == v;
    }
    if (match)
      total = total.value_or(0) + s.value;
  }
  return total;
}

} // namespace souk::metrics
