#pragma once
// NumPy .npy files (format 1.0, C order, little endian) that numpy.load reads directly. The format
// lives here, without LibTorch; io/tensor_npy.h writes and reads tensors with it.
#include <cstdint>
#include <string>
#include <vector>

namespace performer::io {

struct NpyArray {
  std::string descr;           // NumPy type string: "<f4", "<f8", "<i4", "<i8", "|b1"
  std::vector<int64_t> shape;  // C order
  std::string data;            // the elements' bytes, shape's product x item size
};

// Bytes of one element of a descr ("<f4": 4); InputError for other types.
int64_t npy_item_size(const std::string& descr);

// Header and data, written whole or not at all (io/file.h). data holds bytes bytes in C order.
void write_npy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
               const void* data, int64_t bytes);

// Reads what write_npy writes; InputError naming the file for anything else (truncated, another
// version or type, Fortran order).
NpyArray read_npy(const std::string& path);

}  // namespace performer::io
