#include "tools/bench_data.h"

#include <chrono>
#include <vector>

#include "bio/fasta.h"
#include "bio/dataset.h"
#include "bio/input_stream.h"
#include "bio/prepared.h"
#include "tools/memory.h"

namespace performer::tools {
using namespace performer::bio;
namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void finish(DataBenchResult& r) {
  r.text_mb_per_s = r.seconds > 0 ? r.text_bytes / r.seconds / 1e6 : 0;
  r.peak_rss_mib = peak_resident_bytes() >> 20;
}

}  // namespace

DataBenchResult bench_read(const std::string& path) {
  DataBenchResult r;
  r.stage = "read";
  const auto t0 = std::chrono::steady_clock::now();
  InputStream input(path);
  std::vector<char> buf(1 << 20);
  while (input.stream().read(buf.data(), static_cast<std::streamsize>(buf.size())) || input.stream().gcount() > 0) {
  }
  input.check();
  r.seconds = since(t0);
  r.compression = to_string(input.compression());
  r.file_bytes = input.compressed_bytes_read();
  r.text_bytes = input.bytes_read();
  finish(r);
  return r;
}

DataBenchResult bench_parse(const std::string& path, UnknownPolicy unknown) {
  DataBenchResult r;
  r.stage = "parse+tokenize";
  const auto t0 = std::chrono::steady_clock::now();
  FastaReader reader(path);
  SequenceRecord record;
  std::vector<int32_t> tokens;
  while (reader.next(record)) {
    tokens.clear();
    const std::string where = unknown == UnknownPolicy::error ? reader.where(record) : std::string();
    if (Vocabulary::encode(record.sequence, unknown, tokens, where)) r.residues += tokens.size();
  }
  r.seconds = since(t0);
  r.records = reader.records();
  r.compression = to_string(reader.compression());
  r.file_bytes = reader.compressed_bytes_read();
  r.text_bytes = reader.bytes_read();
  finish(r);
  return r;
}

PreparedBenchResult bench_prepared(const std::string& dir, Objective objective, int64_t max_length,
                                   int64_t tokens_per_batch, int64_t max_batches) {
  PreparedBenchResult r;
  r.objective = core::to_string(objective);
  auto t0 = std::chrono::steady_clock::now();
  auto data = std::make_shared<const PreparedData>(dir);
  r.open_seconds = since(t0);
  LoaderOptions options;
  options.objective = objective;
  options.max_length = max_length;
  options.tokens_per_batch = tokens_per_batch;
  t0 = std::chrono::steady_clock::now();
  PreparedLoader loader(data, Split::train, options, 0);
  Batch batch;
  while ((max_batches <= 0 || r.batches < max_batches) && loader.next(batch)) {
    ++r.batches;
    r.tokens += batch.padding.numel() - batch.padding.sum().item<int64_t>();
  }
  r.seconds = since(t0);
  r.batches_per_s = r.seconds > 0 ? r.batches / r.seconds : 0;
  r.tokens_per_s = r.seconds > 0 ? r.tokens / r.seconds : 0;
  r.peak_rss_mib = peak_resident_bytes() >> 20;
  return r;
}

}  // namespace performer::tools
