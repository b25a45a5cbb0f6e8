#include "core/npy.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace performer::core {
namespace {

std::string descr(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "<f4";
    case at::kDouble: return "<f8";
    case at::kInt: return "<i4";
    case at::kLong: return "<i8";
    case at::kBool: return "|b1";
    default: throw ConfigError(std::string("write_npy: unsupported dtype ") + c10::toString(t));
  }
}

at::ScalarType from_descr(const std::string& d) {
  if (d == "<f4") return at::kFloat;
  if (d == "<f8") return at::kDouble;
  if (d == "<i4") return at::kInt;
  if (d == "<i8") return at::kLong;
  if (d == "|b1") return at::kBool;
  throw InputError("unsupported .npy dtype '" + d + "'");
}

}  // namespace

void write_npy(const std::string& path, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  std::ostringstream dict;
  dict << "{'descr': '" << descr(t.scalar_type()) << "', 'fortran_order': False, 'shape': (";
  for (int64_t i = 0; i < t.dim(); ++i) dict << (i ? ", " : "") << t.size(i);
  if (t.dim() == 1) dict << ",";  // a Python one-tuple
  dict << "), }";
  std::string header = dict.str();
  const size_t total = 10 + header.size() + 1;  // magic + version + length, header, '\n'
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw InputError("cannot write '" + path + "'");
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    if (!out.flush()) throw InputError("cannot write '" + path + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw InputError("cannot write '" + path + "': " + ec.message());
}

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open '" + path + "'");
  char magic[10];
  if (!in.read(magic, 10) || std::memcmp(magic, "\x93NUMPY\x01\x00", 8) != 0) {
    throw InputError("'" + path + "' is not a version 1.0 .npy file");
  }
  const size_t len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "': ");
    if (k == std::string::npos) throw InputError("'" + path + "': no " + key + " in the .npy header");
    return k + key.size() + 4;
  };
  size_t d = field("descr");
  const std::string dtype = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  if (header.find("'fortran_order': False") == std::string::npos) throw InputError("'" + path + "': Fortran order");
  size_t s = field("shape") + 1;
  std::vector<int64_t> shape;
  while (header[s] != ')') {
    if (std::isdigit(static_cast<unsigned char>(header[s]))) {
      size_t used;
      shape.push_back(std::stoll(header.substr(s), &used));
      s += used;
    } else {
      ++s;
    }
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(from_descr(dtype)));
  if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()))) {
    throw InputError("'" + path + "': data shorter than its shape");
  }
  return t;
}

}  // namespace performer::core
