#pragma once
// Peak memory of CPU tensors, counted at the allocator: exact bytes of tensor storage, independent of
// what malloc keeps cached. Used by `performer bench` (never by tests of speed). Also the malloc
// setting every CLI command runs with.
#include <cstdint>
#include <string>

namespace performer::tools {

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

// Keeps freed memory in the process for reuse, as a caching allocator would (glibc's mmap and trim
// thresholds raised to 1 GiB): otherwise every large tensor is a fresh mmap whose pages fault in again
// on every step. The CLI sets it for every command: small-preset training steps at B16 x L512 (mlm)
// and B8 x L512 (ar) ran 4-14% faster with it. Benchmarks need it too, or their timings depend on what ran before.
void keep_freed_memory();

int64_t peak_resident_bytes();  // the process's peak resident set (VmHWM), 0 where unknown
int64_t available_memory_bytes();  // memory the system can give without swapping (MemAvailable), 0 where unknown

// InputError "<what> needs ~N GiB, more than the M GiB of memory available" when bytes exceeds what
// the system has available (nothing where that is unknown): a clear refusal up front instead of an
// allocator error after minutes of work.
void require_memory(int64_t bytes, const std::string& what);

}  // namespace performer::tools
