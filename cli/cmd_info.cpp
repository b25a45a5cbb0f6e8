// performer info: what LibTorch sees on this machine, and whether BLAS is fast enough to train.
#include <iostream>

#include "cli/commands.h"
#include "tools/system_info.h"

namespace performer::cli {

void setup_info(CLI::App& sub, const GlobalOptions& global) {
  sub.callback([&global] {
    apply_global_options(global);
    const tools::SystemInfo info = tools::system_info();
    std::cout << "performer        " << PERFORMER_VERSION << "\n"
              << "libtorch         " << info.torch_version << "\n"
              << "cuda             "
              << (info.cuda_available ? "available, " + std::to_string(info.cuda_devices) + " device(s)"
                                      : std::string("not available"))
              << "\n"
              << "threads          " << info.threads << "\n"
              << "blas             " << info.blas_kind
              << (info.blas_threads > 0 ? ", " + std::to_string(info.blas_threads) +
                                               (info.blas_threads == 1 ? " thread" : " threads")
                                         : std::string())
              << "\n";
    for (const auto& lib : info.blas_libraries) std::cout << "                 " << lib << "\n";
    std::printf("matmul           %.1f GFLOP/s (float32, 1024^3, %d threads)\n", info.matmul_gflops,
                info.threads);
    std::printf("matmul bf16      %.1f GFLOP/s (bfloat16, 1024^3; CPU bf16 dot products: %s)\n",
                info.matmul_bf16_gflops, info.cpu_bf16 ? "yes" : "no");
    if (info.matmul_bf16_gflops > 1.5 * info.matmul_gflops) {
      std::printf("note: bf16 products run %.1fx float32's here: train with --precision bf16\n",
                  info.matmul_bf16_gflops / info.matmul_gflops);
    }
    if (info.blas_too_slow) {
      std::cout << "warning: matmul is implausibly slow; LibTorch is probably using reference BLAS. "
                   "Run 'bash setup.sh install', which points libblas.so.3 at BLIS (or OpenBLAS).\n";
    }
  });
}

}  // namespace performer::cli
