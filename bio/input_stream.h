#pragma once
// Byte streams for sequence files: plain, gzip or bzip2 (detected from the first bytes, not the
// name), from a path or from stdin ("-"), read in large blocks so memory stays flat on any file size.
#include <cstdint>
#include <istream>
#include <memory>
#include <string>

namespace performer::bio {

enum class Compression { none, gzip, bzip2 };
std::string to_string(Compression compression);

class InputStream {
 public:
  // Opens path ("-" for stdin). Throws InputError for a missing, unreadable or directory path.
  explicit InputStream(const std::string& path);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  std::istream& stream();           // decompressed bytes
  const std::string& path() const;  // as given ("-" for stdin)
  Compression compression() const;
  // Throws InputError if decompression failed (corrupt data, or a compressed file cut short). A failed
  // decompressor ends the stream early, so a reader calls this whenever the stream ends.
  void check() const;
  uint64_t compressed_bytes_read() const;  // raw bytes consumed from the file so far
  uint64_t bytes_read() const;             // decompressed bytes handed out so far
  uint32_t raw_crc32c() const;             // CRC-32C (io/checksum.h) of the raw bytes read so far

 private:
  class Buffer;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::istream> stream_;
  std::string path_;
};

}  // namespace performer::bio
