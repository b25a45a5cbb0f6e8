#include "tools/memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <fstream>
#include <string>

#include "core/errors.h"

namespace performer::tools {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<bool> g_installed{false};

// Sizes of live allocations: the deleter gets only the pointer. (DataPtr's context must be the data
// pointer itself, as LibTorch's raw_allocate() asserts.)
std::mutex g_mutex;
std::unordered_map<void*, int64_t> g_sizes;

void release(void* data) {
  int64_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_sizes.find(data);
    if (it != g_sizes.end()) {
      bytes = it->second;
      g_sizes.erase(it);
    }
  }
  g_current.fetch_sub(bytes);
  c10::free_cpu(data);
}

// LibTorch 2.3 made allocate() non-const and added copy_data(); 1.13 has neither.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PERFORMER_ALLOCATE_CONST
#define PERFORMER_HAS_COPY_DATA 1
#else
#define PERFORMER_ALLOCATE_CONST const
#define PERFORMER_HAS_COPY_DATA 0
#endif

class CountingAllocator final : public c10::Allocator {
 public:

  c10::DataPtr allocate(size_t n) PERFORMER_ALLOCATE_CONST override {
    void* data = c10::alloc_cpu(n);
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_sizes[data] = static_cast<int64_t>(n);
    }
    const int64_t now = g_current.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

#if PERFORMER_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

}  // namespace

void TensorMemory::install() {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) return;
  static CountingAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/100);
}

bool TensorMemory::installed() { return g_installed.load(); }
int64_t TensorMemory::current_bytes() { return g_current.load(); }
int64_t TensorMemory::peak_bytes() { return g_peak.load(); }
void TensorMemory::reset_peak() { g_peak.store(g_current.load()); }

void keep_freed_memory() {
  // glibc versions that cap the mmap threshold at 32 MiB refuse 1 GiB (mallopt returns 0): take the cap.
  if (mallopt(M_MMAP_THRESHOLD, 1 << 30) == 0) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

namespace {

// A "Key: N kB" field of a /proc file, in bytes; 0 where absent.
int64_t proc_kib_field(const char* file, const std::string& field) {
  std::ifstream status(file);
  std::string key;
  while (status >> key) {
    if (key == field) {
      int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

int64_t peak_resident_bytes() { return proc_kib_field("/proc/self/status", "VmHWM:"); }

int64_t available_memory_bytes() { return proc_kib_field("/proc/meminfo", "MemAvailable:"); }

void require_memory(int64_t bytes, const std::string& what) {
  const int64_t available = available_memory_bytes();
  if (available <= 0 || bytes <= available) return;
  char text[160];
  std::snprintf(text, sizeof text, " needs ~%.1f GiB, more than the %.1f GiB of memory available", bytes / 1073741824.0,
                available / 1073741824.0);
  throw InputError(what + text);
}

}  // namespace performer::tools
