#include "core/json.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/errors.h"

namespace performer::core {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

struct Parser {
  const std::string& text;
  size_t pos = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw ConfigError("config JSON: " + what + " at offset " + std::to_string(pos));
  }
  void skip() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  void expect(char c) {
    skip();
    if (pos >= text.size() || text[pos] != c) fail(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (pos < text.size() && text[pos] != '"') {
      char c = text[pos++];
      if (c == '\\') {
        if (pos >= text.size()) fail("unfinished escape");
        char e = text[pos++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'u': {
            if (pos + 4 > text.size()) fail("short \\u escape");
            out += static_cast<char>(std::stoi(text.substr(pos, 4), nullptr, 16));
            pos += 4;
            break;
          }
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (pos >= text.size()) fail("unterminated string");
    ++pos;
    return out;
  }
};

}  // namespace

std::string FlatJson::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  throw ConfigError("config: '" + key + "' must be a string");
}

double FlatJson::get_number(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  throw ConfigError("config: '" + key + "' must be a number");
}

int64_t FlatJson::get_int(const std::string& key, int64_t fallback) const {
  const double d = get_number(key, static_cast<double>(fallback));
  if (d != std::floor(d)) throw ConfigError("config: '" + key + "' must be a whole number");
  return static_cast<int64_t>(d);
}

bool FlatJson::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  throw ConfigError("config: '" + key + "' must be true or false");
}

std::string FlatJson::dump(int indent) const {
  std::ostringstream out;
  const std::string pad(indent, ' ');
  out << "{";
  bool first = true;
  for (const auto& [key, value] : values_) {
    out << (first ? "\n" : ",\n") << pad << quote(key) << ": ";
    first = false;
    if (auto* s = std::get_if<std::string>(&value)) out << quote(*s);
    else if (auto* b = std::get_if<bool>(&value)) out << (*b ? "true" : "false");
    else {
      const double d = std::get<double>(value);
      char buf[32];
      if (d == std::floor(d) && std::abs(d) < 9e15) std::snprintf(buf, sizeof buf, "%.0f", d);
      else std::snprintf(buf, sizeof buf, "%.17g", d);
      out << buf;
    }
  }
  out << "\n}\n";
  return out.str();
}

FlatJson FlatJson::parse(const std::string& text) {
  Parser p{text};
  FlatJson json;
  p.expect('{');
  p.skip();
  if (p.pos < text.size() && text[p.pos] == '}') {
    ++p.pos;
    return json;
  }
  while (true) {
    const std::string key = p.string();
    p.expect(':');
    p.skip();
    if (p.pos >= text.size()) p.fail("missing value");
    const char c = text[p.pos];
    if (c == '"') {
      json.values_[key] = p.string();
    } else if (text.compare(p.pos, 4, "true") == 0) {
      json.values_[key] = true;
      p.pos += 4;
    } else if (text.compare(p.pos, 5, "false") == 0) {
      json.values_[key] = false;
      p.pos += 5;
    } else {
      size_t used = 0;
      double d;
      try {
        d = std::stod(text.substr(p.pos, 40), &used);
      } catch (const std::exception&) {
        p.fail("expected a string, number, true or false for '" + key + "'");
      }
      json.values_[key] = d;
      p.pos += used;
    }
    p.skip();
    if (p.pos < text.size() && text[p.pos] == ',') {
      ++p.pos;
      continue;
    }
    p.expect('}');
    return json;
  }
}

}  // namespace performer::core
