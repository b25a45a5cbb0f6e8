#include "core/system_info.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include <sched.h>

namespace performer::core {
namespace {

std::vector<std::string> mapped_blas_libraries() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.find("blas") != std::string::npos || name.find("lapack") != std::string::npos ||
        name.find("mkl") != std::string::npos) {
      found.insert(path);
    }
  }
  return {found.begin(), found.end()};
}

std::string classify(const std::vector<std::string>& libraries) {
  for (const auto& path : libraries) {
    if (path.find("openblas") != std::string::npos) {
      if (path.find("openmp") != std::string::npos) return "OpenBLAS (openmp)";
      if (path.find("pthread") != std::string::npos) return "OpenBLAS (pthread)";
      return "OpenBLAS";
    }
    if (path.find("mkl") != std::string::npos) return "MKL";
    if (path.find("blis") != std::string::npos) return "BLIS";
    if (path.find("atlas") != std::string::npos) return "ATLAS";
  }
  for (const auto& path : libraries) {
    if (path.find("/blas/") != std::string::npos) return "reference BLAS (slow)";
  }
  return libraries.empty() ? "built into LibTorch or unknown" : "unknown";
}

double measure_gflops() {
  torch::NoGradGuard no_grad;
  const int64_t n = 1024;
  at::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  at::Tensor c = at::mm(a, b);  // warm-up: threads and BLAS buffers
  double best = 1e30;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > 2) break;
  }
  return 2.0 * n * n * n / best / 1e9;
}

}  // namespace

int default_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

SystemInfo system_info(bool measure_matmul) {
  SystemInfo info;
  info.torch_version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.threads = at::get_num_threads();
  if (measure_matmul) {
    info.matmul_gflops = measure_gflops();
    // Reference BLAS manages ~1-3 GFLOP/s; OpenBLAS does tens per core on anything recent.
    info.blas_too_slow = info.matmul_gflops < 10.0;
  }
  info.blas_libraries = mapped_blas_libraries();  // after the matmul: BLAS may be loaded lazily
  info.blas_kind = classify(info.blas_libraries);
  return info;
}

}  // namespace performer::core
