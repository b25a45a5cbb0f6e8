// performer data prepare: FASTA -> token shards, in one streaming pass (bio/prepared.h).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "bio/fasta.h"
#include "bio/prepared.h"
#include "core/errors.h"
#include "io/checksum.h"
#include "io/file.h"
#include "io/mapped_file.h"

namespace performer::bio {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kWriterMark = ".prepare-writer";  // "<host> <pid>" inside a temporary folder

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

// One output file of a shard: buffered writes, a running CRC-32C, errors with the file's name and
// the system's reason, fsync at the end.
class ShardFile {
 public:
  explicit ShardFile(std::string path) : path_(std::move(path)), buffer_(size_t{1} << 20) {
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_) fail();
    std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size());
  }
  ~ShardFile() {
    if (file_) std::fclose(file_);
  }
  void write(const void* data, size_t bytes) {
    if (bytes == 0) return;
    errno = 0;
    if (std::fwrite(data, 1, bytes, file_) != bytes) fail();
    crc_ = io::crc32c(crc_, data, bytes);
    bytes_ += bytes;
  }
  // Rewrites the first bytes (the index header, written as zeros first). The running CRC no longer
  // holds: crc() is then taken from the file as written.
  void rewrite_start(const void* data, size_t bytes) {
    errno = 0;
    if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0 || std::fwrite(data, 1, bytes, file_) != bytes) {
      fail();
    }
    rewritten_ = true;
  }
  void close() {
    errno = 0;
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail();
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail();
    if (rewritten_) {
      const io::MappedFile written(path_);
      crc_ = io::crc32c(0, written.data(), written.size());
    }
  }
  uint32_t crc() const { return crc_; }
  uint64_t bytes() const { return bytes_; }

 private:
  [[noreturn]] void fail() const { throw InputError("cannot write '" + path_ + "': " + io::os_reason(errno ? errno : EIO)); }
  std::string path_;
  std::vector<char> buffer_;
  std::FILE* file_ = nullptr;
  uint32_t crc_ = 0;
  bool rewritten_ = false;
  uint64_t bytes_ = 0;
};

// The shard being written for one split.
class ShardWriter {
 public:
  ShardWriter(const std::string& folder, const std::string& name)
      : name_(name), tok_(folder + "/" + name + ".tok"), idx_(folder + "/" + name + ".idx"),
        ids_(folder + "/" + name + ".ids") {
    const char zeros[kIndexHeader] = {};
    idx_.write(zeros, sizeof zeros);
  }
  void add(std::string_view id, const std::vector<unsigned char>& tokens) {
    tok_.write(tokens.data(), tokens.size());
    ids_.write(id.data(), id.size());
    ids_.write("\n", 1);
    const uint64_t entry[2] = {tok_.bytes(), ids_.bytes()};
    idx_.write(entry, sizeof entry);
    ++sequences_;
    ++histogram_[length_bin(tokens.size())];
  }
  uint64_t residues() const { return tok_.bytes(); }
  uint64_t sequences() const { return sequences_; }
  const std::vector<uint64_t>& histogram() const { return histogram_; }
  io::Json close() {
    char header[kIndexHeader] = {};
    std::memcpy(header, kIndexMagic.data(), kIndexMagic.size());
    const uint64_t counts[3] = {sequences_, tok_.bytes(), ids_.bytes()};
    std::memcpy(header + 8, counts, sizeof counts);
    idx_.rewrite_start(header, sizeof header);
    tok_.close();
    idx_.close();
    ids_.close();
    return {{"name", name_}, {"sequences", sequences_}, {"residues", tok_.bytes()}, {"id_bytes", ids_.bytes()},
            {"crc32c", {{"tok", io::crc_hex(tok_.crc())}, {"idx", io::crc_hex(idx_.crc())}, {"ids", io::crc_hex(ids_.crc())}}}};
  }

 private:
  std::string name_;
  ShardFile tok_, idx_, ids_;
  uint64_t sequences_ = 0;
  std::vector<uint64_t> histogram_ = std::vector<uint64_t>(length_edges().size(), 0);
};

struct SplitOutput {
  std::unique_ptr<ShardWriter> shard;
  io::Json shards = io::Json::array();
  uint64_t sequences = 0, residues = 0, next_number = 0;
  std::vector<uint64_t> histogram = std::vector<uint64_t>(length_edges().size(), 0);

  void finish_shard() {
    if (!shard) return;
    for (size_t b = 0; b < histogram.size(); ++b) histogram[b] += shard->histogram()[b];
    shards.push_back(shard->close());
    shard.reset();
  }
};

// A record on its way from the reading thread to the writing one.
struct PendingRecord {
  Split split = Split::train;
  std::string id, sequence;
  std::string where;  // for an error message (only under UnknownPolicy::error)
};

// Records in a reusable block: the strings keep their capacity from one use to the next, so that
// the reader copies a sequence instead of allocating one for every record.
struct Chunk {
  std::vector<PendingRecord> records;
  size_t used = 0;
  PendingRecord& add() {
    if (used == records.size()) records.emplace_back();
    return records[used++];
  }
};

// Chunks of records handed from the reader to the writer: bounded (the reader waits when the writer
// is behind), so memory stays a few chunks of records whatever the input. The first exception of
// either side stops both.
class RecordQueue {
 public:
  static constexpr size_t kChunk = 256;
  static constexpr size_t kDepth = 8;

  void push(Chunk& chunk) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return full_.size() < kDepth || error_; });
    if (error_) std::rethrow_exception(error_);
    full_.push_back(std::move(chunk));
    chunk = take_spare();
    changed_.notify_all();
  }
  bool pop(Chunk& chunk) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !full_.empty() || closed_ || error_; });
    if (error_ || full_.empty()) return false;
    chunk = std::move(full_.front());
    full_.pop_front();
    changed_.notify_all();
    return true;
  }
  void recycle(Chunk&& chunk) {
    chunk.used = 0;
    std::lock_guard<std::mutex> lock(mutex_);
    spare_.push_back(std::move(chunk));
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  void fail(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
    changed_.notify_all();
  }
  void rethrow() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_ != nullptr;
  }

 private:
  Chunk take_spare() {
    Chunk chunk;
    if (!spare_.empty()) {
      chunk = std::move(spare_.back());
      spare_.pop_back();
    }
    return chunk;
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Chunk> full_;
  std::vector<Chunk> spare_;
  bool closed_ = false;
  std::exception_ptr error_;
};

// Residue ids as bytes (Vocabulary::encode's rules); false when the policy is skip and the sequence
// has a character that is not a residue.
bool encode_bytes(const std::string& sequence, UnknownPolicy policy, std::vector<unsigned char>& out,
                  const std::string& where) {
  out.resize(sequence.size());
  for (size_t i = 0; i < sequence.size(); ++i) {
    const int32_t id = Vocabulary::residue_id(sequence[i]);
    if (id >= 0) {
      out[i] = static_cast<unsigned char>(id);
      continue;
    }
    // The rare case: the vocabulary's own rules and message.
    std::vector<int32_t> ids;
    if (!Vocabulary::encode(sequence, policy, ids, where)) return false;
    out.assign(ids.begin(), ids.end());
    return true;
  }
  return true;
}

// Temporaries of earlier runs for the same folder whose writer (on this host) is no longer alive: a
// prepare killed with SIGKILL leaves one; it is removed here, and said so.
std::vector<std::string> sweep_stale(const std::string& out) {
  std::vector<std::string> removed;
  std::string trimmed = out;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();  // as AtomicFolder names its temporary
  const fs::path target = fs::path(trimmed).lexically_normal();
  fs::path parent = target.parent_path();
  if (parent.empty()) parent = ".";
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const std::string host = host_name();
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() != prefix.size() + 6) continue;
    std::ifstream mark(entry.path() / kWriterMark);
    std::string writer_host;
    long pid = 0;
    if (!(mark >> writer_host >> pid) || writer_host != host || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
    if (!ignored) removed.push_back(entry.path().string());
  }
  return removed;
}

}  // namespace

PrepareReport prepare(const PrepareOptions& options, const std::function<void(const PrepareProgress&)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  require_config(!options.inputs.empty(), "prepare needs at least one input file");
  require_config(options.shard_bytes >= 1, "the shard size must be positive");
  require_config(options.split.valid_fraction >= 0 && options.split.test_fraction >= 0 &&
                     options.split.valid_fraction + options.split.test_fraction <= 1,
                 "the valid and test fractions must be in [0, 1] and sum to at most 1");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(options.out, ec))) {
    if (!fs::is_directory(options.out, ec)) {
      throw ConfigError("--out '" + options.out + "' is a file, not a folder");
    }
    if (!fs::is_empty(options.out, ec)) {
      if (!is_prepared(options.out)) {
        throw ConfigError("--out '" + options.out + "' exists and is not a prepared data folder: not replaced");
      }
      if (!options.force) {
        throw ConfigError("--out '" + options.out + "' holds prepared data: not replaced (--force replaces it)");
      }
    }
  }
  for (const auto& input : options.inputs) {
    if (input != "-" && !fs::exists(input, ec)) throw InputError("cannot open '" + input + "': no such file");
  }
  PrepareReport report;
  report.removed_stale = sweep_stale(options.out);

  io::AtomicFolder folder(options.out);
  {
    std::ofstream mark(folder.file(std::string(kWriterMark)));
    mark << host_name() << ' ' << ::getpid() << '\n';
  }
  PrepareProgress state;
  for (const auto& input : options.inputs) {
    if (input != "-" && fs::is_regular_file(input, ec)) state.total_bytes += fs::file_size(input, ec);
  }

  // Two threads: this one reads, parses and filters records; a writer encodes them and writes the
  // shards (with their CRC-32C), so that parsing and writing overlap on two cores.
  const Split splits[] = {Split::train, Split::valid, Split::test};
  SplitOutput outputs[3];
  io::Json inputs = io::Json::array();
  std::atomic<uint64_t> kept{0}, residues{0}, unknown_skipped{0};
  RecordQueue queue;
  std::thread writer([&] {
    try {
      std::vector<unsigned char> bytes;
      Chunk chunk;
      while (queue.pop(chunk)) {
        for (size_t k = 0; k < chunk.used; ++k) {
          const PendingRecord& r = chunk.records[k];
          if (!encode_bytes(r.sequence, options.unknown, bytes, r.where)) {
            ++unknown_skipped;
            continue;
          }
          SplitOutput& out = outputs[static_cast<size_t>(r.split)];
          if (out.shard && out.shard->residues() > 0 && out.shard->residues() + bytes.size() > options.shard_bytes) {
            out.finish_shard();
          }
          if (!out.shard) {
            char name[32];
            std::snprintf(name, sizeof name, "%s-%05llu", to_string(r.split).c_str(),
                          static_cast<unsigned long long>(out.next_number++));
            out.shard = std::make_unique<ShardWriter>(folder.temp_path(), name);
          }
          out.shard->add(r.id, bytes);
          ++out.sequences;
          out.residues += bytes.size();
          residues += bytes.size();
          ++kept;
        }
        queue.recycle(std::move(chunk));
      }
      if (!queue.failed()) {
        for (Split split : splits) outputs[static_cast<size_t>(split)].finish_shard();
      }
    } catch (...) {
      queue.fail(std::current_exception());
    }
  });
  try {
    uint64_t bytes_before = 0;
    Chunk chunk;
    const bool need_fields = needs_header(options.filter);
    for (const auto& input : options.inputs) {
      FastaReader reader(input);
      SequenceRecord record;
      uint64_t records = 0;
      while (reader.next(record)) {
        ++records;
        ++report.records;
        // The header is parsed only when a filter needs its fields; the split needs the accession alone.
        const int64_t length = static_cast<int64_t>(record.sequence.size());
        const bool keep = need_fields ? passes(parse_header(record.header), length, options.filter)
                                      : passes(Header{}, length, options.filter);
        if (!keep) {
          ++report.filtered;
          continue;
        }
        const std::string_view id = header_id(record.header);
        PendingRecord& r = chunk.add();
        r.split = split_of(accession_of(id), options.split);
        r.id.assign(id);
        r.sequence.assign(record.sequence);
        if (options.unknown == UnknownPolicy::error) r.where = reader.where(record);
        if (chunk.used == RecordQueue::kChunk) {
          queue.push(chunk);
          if (progress) {
            state.input_bytes = bytes_before + reader.compressed_bytes_read();
            state.sequences = kept;
            progress(state);
          }
        }
      }
      report.empty_skipped += reader.empty_skipped();
      report.input_bytes += reader.compressed_bytes_read();
      report.text_bytes += reader.bytes_read();
      bytes_before += reader.compressed_bytes_read();
      inputs.push_back({{"path", input == "-" ? std::string("-") : fs::absolute(input, ec).string()},
                        {"bytes", reader.compressed_bytes_read()},
                        {"text_bytes", reader.bytes_read()},
                        {"compression", to_string(reader.compression())},
                        {"crc32c", io::crc_hex(reader.raw_crc32c())},
                        {"records", records + reader.empty_skipped()}});
    }
    if (chunk.used > 0) queue.push(chunk);
    queue.close();
  } catch (...) {
    queue.fail(std::current_exception());
  }
  writer.join();
  queue.rethrow();
  report.kept = kept;
  report.residues = residues;
  report.unknown_skipped = unknown_skipped;

  if (report.kept == 0) {
    throw InputError("no sequence left to prepare: " + std::to_string(report.records) + " records read, " +
                     std::to_string(report.filtered) + " filtered out, " + std::to_string(report.unknown_skipped) +
                     " skipped for unknown residues");
  }

  io::Json split_json = io::Json::object();
  for (Split split : splits) {
    SplitOutput& out = outputs[static_cast<size_t>(split)];
    report.sequences[static_cast<size_t>(split)] = out.sequences;
    report.shards += out.shards.size();
    split_json[to_string(split)] = {{"sequences", out.sequences}, {"residues", out.residues},
                                    {"length_histogram", out.histogram}, {"shards", out.shards}};
  }
  io::Json taxids = options.filter.taxids;
  io::Json manifest = {
      {"format", kPreparedFormat},
      {"version", kPreparedVersion},
      {"vocabulary", Vocabulary::kVersion},
      {"token_bytes", 1},
      {"written_by", "performer data prepare"},
      {"options",
       {{"unknown", to_string(options.unknown)},
        {"min_length", options.filter.min_length},
        {"max_length", options.filter.max_length},
        {"swissprot_only", options.filter.swissprot_only},
        {"taxids", taxids},
        {"valid_fraction", options.split.valid_fraction},
        {"test_fraction", options.split.test_fraction},
        {"split_seed", options.split.seed},
        {"shard_bytes", options.shard_bytes}}},
      {"inputs", inputs},
      {"counts",
       {{"records", report.records},
        {"kept", report.kept},
        {"filtered", report.filtered},
        {"unknown_skipped", report.unknown_skipped},
        {"empty_skipped", report.empty_skipped},
        {"residues", report.residues}}},
      {"length_edges", length_edges()},
      {"splits", split_json}};
  io::AtomicFile manifest_file(folder.file(std::string(kManifest)), true);
  manifest_file.stream() << io::to_text(manifest) << '\n';
  manifest_file.commit();
  folder.commit();
  // The mark stays until the folder is in place, so that a run killed at any moment before leaves a
  // temporary the next run can recognise and sweep.
  fs::remove(fs::path(options.out) / kWriterMark, ec);
  if (progress) {
    state.input_bytes = state.total_bytes ? state.total_bytes : report.input_bytes;
    state.sequences = report.kept;
    progress(state);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace performer::bio
