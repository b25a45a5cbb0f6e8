#include "tools/system_info.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include <sched.h>

namespace performer::tools {
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

// What a mapped library is, from its path ("" when it is not a BLAS).
std::string blas_kind_of(const std::string& path) {
  auto flavour = [&path](const std::string& name) {
    if (path.find("openmp") != std::string::npos) return name + " (openmp)";
    if (path.find("pthread") != std::string::npos) return name + " (pthread)";
    if (path.find("serial") != std::string::npos) return name + " (serial)";
    return name;
  };
  if (path.find("openblas") != std::string::npos) return flavour("OpenBLAS");
  if (path.find("blis") != std::string::npos) return flavour("BLIS");
  if (path.find("mkl") != std::string::npos) return "MKL";
  if (path.find("atlas") != std::string::npos) return "ATLAS";
  if (path.find("/blas/") != std::string::npos) return "reference BLAS (slow)";
  return "";
}

// The BLAS behind LibTorch's matrix products: the file libblas.so.3 resolves to (Debian's
// alternative; LAPACK may come from another library), else any BLAS that is mapped (MKL, ...).
std::string classify(const std::vector<std::string>& libraries) {
  for (const auto& path : libraries) {
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.rfind("libblas.so", 0) != 0) continue;
    const std::string kind = blas_kind_of(path);
    if (!kind.empty()) return kind;
  }
  for (const auto& path : libraries) {
    const std::string kind = blas_kind_of(path);
    if (!kind.empty()) return kind;
  }
  return libraries.empty() ? "built into LibTorch or unknown" : "unknown";
}

// Threads of the BLAS kind: BLIS reads BLIS_NUM_THREADS (then OMP_NUM_THREADS) once; OpenBLAS and MKL
// built with OpenMP follow LibTorch's setting. 0 where unknown.
int blas_threads_of(const std::string& kind, int torch_threads) {
  if (kind.rfind("BLIS", 0) == 0) {
    for (const char* var : {"BLIS_NUM_THREADS", "OMP_NUM_THREADS"}) {
      const char* value = std::getenv(var);
      if (value != nullptr && std::atoi(value) > 0) return std::atoi(value);
    }
    return 1;
  }
  if (kind == "MKL" || kind.find("(openmp)") != std::string::npos) return torch_threads;
  return 0;
}

double measure_gflops(at::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const int64_t n = 1024;
  at::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
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

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

void use_threads(int threads) {
  at::set_num_threads(threads);
  // BLIS ignores LibTorch's setting: it reads this once, at its first call.
  setenv("BLIS_NUM_THREADS", std::to_string(threads).c_str(), 1);
}

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
    info.matmul_gflops = measure_gflops(at::kFloat);
    // Reference BLAS manages ~1-3 GFLOP/s; OpenBLAS and BLIS do tens per core on anything recent.
    info.blas_too_slow = info.matmul_gflops < 10.0;
    info.matmul_bf16_gflops = measure_gflops(at::kBFloat16);  // oneDNN where LibTorch has it
  }
  info.cpu_bf16 = cpu_has_native_bf16();
  info.blas_libraries = mapped_blas_libraries();  // after the matmul: BLAS may be loaded lazily
  info.blas_kind = classify(info.blas_libraries);
  info.blas_threads = blas_threads_of(info.blas_kind, info.threads);
  return info;
}

}  // namespace performer::tools
