#include "core/memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <fstream>
#include <string>

namespace performer::core {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<bool> g_installed{false};

struct Counted {
  c10::DataPtr inner;  // owns the real allocation
  int64_t bytes;
};

void release(void* context) {
  auto* counted = static_cast<Counted*>(context);
  g_current.fetch_sub(counted->bytes);
  delete counted;
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
  explicit CountingAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(size_t n) PERFORMER_ALLOCATE_CONST override {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    const int64_t now = g_current.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    return {data, new Counted{std::move(inner), static_cast<int64_t>(n)}, &release, device};
  }

#if PERFORMER_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

 private:
  c10::Allocator* base_;
};

}  // namespace

void TensorMemory::install() {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) return;
  static CountingAllocator allocator(c10::GetCPUAllocator());
  c10::SetCPUAllocator(&allocator, /*priority=*/100);
}

bool TensorMemory::installed() { return g_installed.load(); }
int64_t TensorMemory::current_bytes() { return g_current.load(); }
int64_t TensorMemory::peak_bytes() { return g_peak.load(); }
void TensorMemory::reset_peak() { g_peak.store(g_current.load()); }

int64_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace performer::core
