#pragma once
// Temporary input files for the bio tests: plain, gzip and bzip2, written with the libraries.
#include <bzlib.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace performer::test {

inline std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "performer-bio-tests";
  std::filesystem::create_directories(dir);
  return dir / name;
}

inline std::string write_plain(const std::string& name, const std::string& text) {
  auto path = temp_path(name);
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

inline std::string write_gzip(const std::string& name, const std::string& text) {
  auto path = temp_path(name).string();
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  return path;
}

inline std::string write_bzip2(const std::string& name, const std::string& text) {
  std::string out(text.size() + text.size() / 100 + 1024, '\0');
  unsigned size = static_cast<unsigned>(out.size());
  BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(text.data()),
                           static_cast<unsigned>(text.size()), 9, 0, 0);
  out.resize(size);
  return write_plain(name, out);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace performer::test
