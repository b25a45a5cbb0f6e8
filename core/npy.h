#pragma once
// NumPy .npy files (format 1.0, C order, little endian) that numpy.load reads directly.
#include <ATen/ATen.h>

#include <string>

namespace performer::core {

// Writes a float32, float64, int32, int64 or bool tensor (any shape; made contiguous, moved to the
// CPU). Written to a temporary name then renamed. Throws InputError when the path cannot be written.
void write_npy(const std::string& path, const at::Tensor& tensor);

// Reads what write_npy writes (for tests and tools). Throws InputError for anything else.
at::Tensor read_npy(const std::string& path);

}  // namespace performer::core
