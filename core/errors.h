#pragma once
// Typed exceptions thrown by the libraries; only cli/ and gui/ turn them into exit codes or dialogs.
// Header-only: every layer (io, core, bio, tools) throws them.
#include <stdexcept>
#include <string>

namespace performer {

// Base of every error the toolkit throws on purpose: the message is meant for the user, in the
// library's terms. setting, when not empty, names the setting that would change the outcome
// ("unknown_policy", "learning_rate", "offset", "optimizer"): a program adds its own option for it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string setting = {})
      : std::runtime_error(message), setting_(std::move(setting)) {}
  const std::string& setting() const { return setting_; }

 private:
  std::string setting_;
};

// Bad data: a file, a sequence, a record (names what and where).
class InputError : public Error {
 public:
  using Error::Error;
};

// Bad settings: unknown attention kind, dimensions that do not fit, inconsistent options.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Training cannot go on (a loss that is not finite, ...); says what was kept.
class TrainingError : public Error {
 public:
  using Error::Error;
};

// Throws ConfigError(message) when condition is false.
inline void require_config(bool condition, const std::string& message) {
  if (!condition) throw ConfigError(message);
}

}  // namespace performer
