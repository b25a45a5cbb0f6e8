#pragma once
// A file mapped read-only into memory: the prepared shards are read in place, any sequence in O(1),
// with the operating system's page cache as the only buffer (shared by every process on a machine).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace performer::io {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps the whole file. InputError "cannot read '<path>': <reason>" when it cannot be opened or
  // mapped. An empty file maps to an empty view.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  // Tells the kernel the access pattern: random (no read-ahead) or sequential (a verification pass).
  void advise_random() const;
  void advise_sequential() const;

 private:
  void release();
  std::string path_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace performer::io
