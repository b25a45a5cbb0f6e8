#pragma once
// Input-speed measurements for `performer bench data`: decompression alone, then parse + tokenize.
#include <cstdint>
#include <string>

#include "bio/vocabulary.h"

namespace performer::tools {

struct DataBenchResult {
  std::string stage;          // "read" (decompress only) or "parse+tokenize"
  std::string compression;    // plain, gzip, bzip2
  uint64_t records = 0;
  uint64_t residues = 0;
  uint64_t file_bytes = 0;    // bytes of the file on disk
  uint64_t text_bytes = 0;    // FASTA text after decompression
  double seconds = 0;
  double text_mb_per_s = 0;   // text_bytes / seconds / 1e6
  int64_t peak_rss_mib = 0;   // process peak resident memory after the stage
};

// Reads the whole file without parsing: the ceiling that decompression sets.
DataBenchResult bench_read(const std::string& path);
// Reads, parses (seqan3) and tokenizes every record, as training input does.
DataBenchResult bench_parse(const std::string& path, bio::UnknownPolicy unknown);

}  // namespace performer::tools
