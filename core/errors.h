#pragma once
// Typed exceptions thrown by the libraries; only cli/ and gui/ turn them into exit codes or dialogs.
#include <stdexcept>
#include <string>

namespace performer {

// Base of every error the toolkit throws on purpose: the message is meant for the user.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
void require_config(bool condition, const std::string& message);

}  // namespace performer
