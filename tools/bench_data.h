#pragma once
// Input-speed measurements for `performer bench data`: decompression alone, then parse + tokenize.
#include <cstdint>
#include <string>

#include "bio/vocabulary.h"
#include "core/settings.h"

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

struct PreparedBenchResult {
  std::string objective;
  int64_t batches = 0;
  int64_t tokens = 0;         // input tokens (not padding)
  double open_seconds = 0;    // opening the folder (manifest, maps, header checks)
  double seconds = 0;         // the loader's batches, pulled as fast as they come
  double batches_per_s = 0;
  double tokens_per_s = 0;
  int64_t peak_rss_mib = 0;
};

// The prepared-data loader alone (its one background thread; nothing trains): batches of the
// train split as `performer train --data DIR` builds them, up to max_batches (0: one epoch).
PreparedBenchResult bench_prepared(const std::string& dir, core::Objective objective, int64_t max_length,
                                   int64_t tokens_per_batch, int64_t max_batches);

}  // namespace performer::tools
