#pragma once
// A flat JSON object of strings, numbers and booleans: enough for model configs, with no dependency
// beyond the standard library (core builds with LibTorch alone).
#include <map>
#include <string>
#include <variant>

namespace performer::core {

class FlatJson {
 public:
  using Value = std::variant<std::string, double, bool>;

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  void set(const std::string& key, const char* value) { values_[key] = std::string(value); }
  void set(const std::string& key, double value) { values_[key] = value; }
  void set(const std::string& key, int64_t value) { values_[key] = static_cast<double>(value); }
  void set(const std::string& key, bool value) { values_[key] = value; }

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // Typed getters: fallback when the key is absent; ConfigError when present with another type.
  std::string get_string(const std::string& key, const std::string& fallback) const;
  double get_number(const std::string& key, double fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;

  std::string dump(int indent = 2) const;  // keys sorted
  static FlatJson parse(const std::string& text);  // throws ConfigError naming the offset

 private:
  std::map<std::string, Value> values_;
};

}  // namespace performer::core
