#pragma once
// What the machine gives LibTorch: version, devices, threads, BLAS, and a measured matmul speed.
#include <string>
#include <vector>

namespace performer::tools {

struct SystemInfo {
  std::string torch_version;             // e.g. "1.13.1"
  bool cuda_available = false;
  int cuda_devices = 0;
  int threads = 0;                       // at::get_num_threads()
  std::vector<std::string> blas_libraries;  // BLAS/LAPACK shared objects mapped into this process
  std::string blas_kind;                 // "BLIS (openmp)", "OpenBLAS (openmp)", "MKL", ... or "unknown"
  int blas_threads = 0;                  // threads of the BLAS's own products; 0 where unknown
  double matmul_gflops = 0;              // float32 1024^3 matmul on the CPU, best of several
  bool blas_too_slow = false;            // matmul_gflops implausibly low: likely reference BLAS
  double matmul_bf16_gflops = 0;         // the same product in bfloat16 (--precision bf16's dense layers)
  bool cpu_bf16 = false;                 // the CPU has bf16 dot products (AVX512_BF16)
};

// Whether the CPU multiplies bfloat16 natively (x86: AVX512_BF16), where --precision bf16 pays off.
bool cpu_has_native_bf16();

// Measures the matmul speed (about a second) unless measure_matmul is false.
SystemInfo system_info(bool measure_matmul = true);

// Sets the CPU threads of LibTorch and of its BLAS. OpenBLAS and MKL built with OpenMP follow
// LibTorch's setting; BLIS reads BLIS_NUM_THREADS at its first call, so call this before any matrix
// product (the CLI does, for every command).
void use_threads(int threads);

// Threads to use when the user gives none: every core this process may run on.
int default_threads();

}  // namespace performer::tools
