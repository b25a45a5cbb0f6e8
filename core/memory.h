#pragma once
// Peak memory of CPU tensors, counted at the allocator: exact bytes of tensor storage, independent of
// what malloc keeps cached. Used by `performer bench` (never by tests of speed).
#include <cstdint>

namespace performer::core {

class TensorMemory {
 public:
  // Wraps LibTorch's CPU allocator with a counting one; idempotent. Install before creating the
  // tensors to be counted (tensors allocated earlier are released uncounted, which is harmless).
  static void install();
  static bool installed();
  static int64_t current_bytes();  // live tensor storage now
  static int64_t peak_bytes();     // highest current_bytes() since the last reset_peak()
  static void reset_peak();        // peak := current
};

int64_t peak_resident_bytes();  // the process's peak resident set (VmHWM), 0 where unknown

}  // namespace performer::core
