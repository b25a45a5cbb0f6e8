#pragma once
// Settings that take one of a fixed set of names (attention kind, projection, objective, activation,
// positions, precision, optimiser). Each enum lists its names once, in a `names(E)` function declared
// beside it; to_string, parsing, error messages and the CLI's accepted values all read that list.
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.h"

namespace performer::core {

template <typename E, size_t N>
using NameList = std::array<std::pair<E, std::string_view>, N>;

// An enum with a name list: `names(E{})` is found by argument-dependent lookup.
template <typename E>
concept Named = std::is_enum_v<E> && requires { names(E{}); };

template <Named E>
std::string to_string(E value) {
  for (const auto& [v, name] : names(E{})) {
    if (v == value) return std::string(name);
  }
  return "?";
}

// Every name of E, in the list's order (for --help and CLI11's IsMember).
template <Named E>
std::vector<std::string> all_names() {
  std::vector<std::string> out;
  for (const auto& entry : names(E{})) out.emplace_back(entry.second);
  return out;
}

// "a, b or c"
inline std::string name_choices(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

// The value named text; ConfigError "unknown <what> '<text>' (expected a, b or c)" otherwise.
template <Named E>
E parse_name(const std::string& text, std::string_view what) {
  for (const auto& [v, name] : names(E{})) {
    if (name == text) return v;
  }
  throw ConfigError("unknown " + std::string(what) + " '" + text + "' (expected " + name_choices(all_names<E>()) + ")");
}

}  // namespace performer::core
