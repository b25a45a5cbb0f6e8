// libFuzzer target: mutation lists as a variants CSV holds them ("A24C:G30D"), parsed and applied to
// a sequence. Any input may be rejected with InputError; nothing else may happen (a crash, another
// exception, a sanitizer report).
#include <cstddef>
#include <cstdint>
#include <string>

#include "bio/mutation.h"
#include "core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto mutations = performer::bio::parse_mutations(text);
    for (const auto& m : mutations) (void)performer::bio::to_string(m);
    (void)performer::bio::apply_mutations("MKTAYIAKQRQISFVKSHFSRQ", mutations, 1);
  } catch (const performer::InputError&) {
  }
  return 0;
}
