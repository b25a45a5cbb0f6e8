#include "io/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "io/file.h"

namespace performer::io {

int64_t npy_item_size(const std::string& descr) {
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<f8" || descr == "<i8") return 8;
  if (descr == "|b1") return 1;
  throw InputError("unsupported .npy dtype '" + descr + "'");
}

void write_npy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
               const void* data, int64_t bytes) {
  std::ostringstream dict;
  dict << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) dict << ",";  // a Python one-tuple
  dict << "), }";
  std::string header = dict.str();
  const size_t total = 10 + header.size() + 1;  // magic + version + length, header, '\n'
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  AtomicFile file(path);
  std::ostream& out = file.stream();
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  file.commit();
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open '" + path + "'");
  char magic[10];
  if (!in.read(magic, 10) || std::memcmp(magic, "\x93NUMPY\x01\x00", 8) != 0) {
    throw InputError("'" + path + "' is not a version 1.0 .npy file");
  }
  const size_t length = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  std::string header(length, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(length))) {
    throw InputError("'" + path + "': the .npy header is truncated");
  }
  auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "': ");
    if (k == std::string::npos || k + key.size() + 5 >= header.size()) {
      throw InputError("'" + path + "': no " + key + " in the .npy header");
    }
    return k + key.size() + 4;
  };
  NpyArray array;
  const size_t d = field("descr");
  array.descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  const int64_t item = npy_item_size(array.descr);
  if (header.find("'fortran_order': False") == std::string::npos) throw InputError("'" + path + "': Fortran order");
  // The shape's product must be the bytes the file holds: checked before anything is allocated, so
  // that a corrupt header cannot ask for more memory than the file has.
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const auto available = static_cast<uint64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  size_t s = field("shape") + 1;
  uint64_t elements = 1;
  while (s < header.size() && header[s] != ')') {
    if (!std::isdigit(static_cast<unsigned char>(header[s]))) {
      ++s;
      continue;
    }
    uint64_t n = 0;
    for (; s < header.size() && std::isdigit(static_cast<unsigned char>(header[s])); ++s) {
      n = n * 10 + static_cast<uint64_t>(header[s] - '0');
      if (n > available) throw InputError("'" + path + "': its shape needs more data than the file holds");
    }
    array.shape.push_back(static_cast<int64_t>(n));
    elements = n == 0 ? 0 : elements * n;
    if (elements > available) throw InputError("'" + path + "': its shape needs more data than the file holds");
  }
  const uint64_t bytes = elements * static_cast<uint64_t>(item);
  if (bytes > available) throw InputError("'" + path + "': data shorter than its shape");
  array.data.resize(static_cast<size_t>(bytes));
  if (!in.read(array.data.data(), static_cast<std::streamsize>(array.data.size()))) {
    throw InputError("'" + path + "': data shorter than its shape");
  }
  return array;
}

}  // namespace performer::io
