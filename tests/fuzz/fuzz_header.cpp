// libFuzzer target: FASTA header lines (UniProtKB, UniRef, anything else) into records.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bio/header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  const performer::bio::Header h = performer::bio::parse_header(line);
  (void)performer::bio::to_string(h.kind);
  return 0;
}
