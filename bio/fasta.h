#pragma once
// Streaming FASTA reading (seqan3's parser over plain, gzip or bzip2 input): one record at a time,
// so memory stays flat on files of any size.
#include <cstdint>
#include <memory>
#include <string>

#include "bio/input_stream.h"

namespace performer::bio {

struct SequenceRecord {
  std::string header;    // header line without '>' (and without a trailing '\r')
  std::string sequence;  // as in the file, whitespace and digits removed, one trailing '*' removed
  uint64_t index = 0;    // 1-based record number in the file
};

class FastaReader {
 public:
  // path: a FASTA file, plain, gzip or bzip2 (detected from content), or "-" for stdin.
  explicit FastaReader(const std::string& path);
  ~FastaReader();
  FastaReader(FastaReader&&) noexcept;

  // Reads the next record with a non-empty sequence; false at the end. Records with an empty sequence
  // are skipped and counted. Throws InputError naming the file and record for anything malformed,
  // and for a file with no record at all.
  bool next(SequenceRecord& record);

  const std::string& path() const;
  std::string where(const SequenceRecord& record) const;  // "file: record 12 (sp|P00974|...)"
  uint64_t records() const;         // records returned so far
  uint64_t empty_skipped() const;   // records skipped for an empty sequence
  Compression compression() const;
  uint64_t compressed_bytes_read() const;
  uint64_t bytes_read() const;  // FASTA text read so far (after decompression)
  uint32_t raw_crc32c() const;  // CRC-32C of the file's bytes read so far (the whole file at the end)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace performer::bio
