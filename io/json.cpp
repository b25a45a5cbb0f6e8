#include "io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"

namespace performer::io {

Json parse_json(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error for malformed text, out_of_range for a number too large for a double (1e999).
    throw InputError(what + ": not valid JSON (" + e.what() + ")");
  }
}

std::string to_line(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string to_text(const Json& value) { return value.dump(2, ' ', false, Json::error_handler_t::replace); }

Json rounded(double value, int digits) {
  if (!std::isfinite(value)) return nullptr;
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return std::strtod(text, nullptr);
}

}  // namespace performer::io
