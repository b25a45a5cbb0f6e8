#pragma once
// Tensors to and from .npy files (io/npy.h). Header-only, so that performer_io needs no LibTorch.
#include <ATen/ATen.h>

#include <cstring>
#include <string>

#include "core/errors.h"
#include "io/npy.h"

namespace performer::io {

// NumPy's type string of a dtype; ConfigError for types .npy files here do not hold.
inline std::string npy_descr(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "<f4";
    case at::kDouble: return "<f8";
    case at::kInt: return "<i4";
    case at::kLong: return "<i8";
    case at::kBool: return "|b1";
    default: throw ConfigError(std::string("no .npy type for dtype ") + c10::toString(type));
  }
}

// Writes a float32, float64, int32, int64 or bool tensor of any shape (made contiguous, on the CPU).
inline void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  write_npy(path, npy_descr(t.scalar_type()), t.sizes().vec(), t.data_ptr(), static_cast<int64_t>(t.nbytes()));
}

// Reads what write_npy writes into a tensor of the file's dtype and shape.
inline at::Tensor read_npy_tensor(const std::string& path) {
  const NpyArray array = read_npy(path);
  at::ScalarType type = at::kFloat;
  for (auto candidate : {at::kFloat, at::kDouble, at::kInt, at::kLong, at::kBool}) {
    if (npy_descr(candidate) == array.descr) type = candidate;
  }
  at::Tensor t = at::empty(array.shape, at::TensorOptions().dtype(type));
  std::memcpy(t.data_ptr(), array.data.data(), array.data.size());
  return t;
}

}  // namespace performer::io
