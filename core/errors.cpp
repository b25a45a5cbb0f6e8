#include "core/errors.h"

namespace performer {

void require_config(bool condition, const std::string& message) {
  if (!condition) throw ConfigError(message);
}

}  // namespace performer
