#include "bio/dataset.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "bio/fasta.h"
#include "core/errors.h"

namespace performer::bio {

std::string to_string(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "valid") return Split::valid;
  if (name == "test") return Split::test;
  throw ConfigError("unknown split '" + name + "' (train, valid or test)");
}

Split split_of(const std::string& accession, const SplitOptions& options) {
  // FNV-1a over the seed's bytes then the accession, finished with a splitmix step for uniformity.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](unsigned char byte) { h = (h ^ byte) * 1099511628211ULL; };
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(options.seed >> (8 * i)));
  for (char c : accession) mix(static_cast<unsigned char>(c));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  const double u = static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
  if (u < options.valid_fraction) return Split::valid;
  if (u < options.valid_fraction + options.test_fraction) return Split::test;
  return Split::train;
}

bool passes(const Header& header, int64_t length, const FilterOptions& options) {
  if (length < options.min_length) return false;
  if (options.max_length > 0 && length > options.max_length) return false;
  if (options.swissprot_only && !header.is_swissprot()) return false;
  if (!options.taxids.empty() &&
      std::find(options.taxids.begin(), options.taxids.end(), header.taxid) == options.taxids.end()) {
    return false;
  }
  return true;
}

struct ExampleReader::Impl {
  FastaReader fasta;
  ReadOptions options;
  ReadCounts counts;
  SequenceRecord record;
  Impl(const std::string& path, ReadOptions o) : fasta(path), options(std::move(o)) {}
};

ExampleReader::ExampleReader(const std::string& path, ReadOptions options)
    : impl_(std::make_unique<Impl>(path, std::move(options))) {}
ExampleReader::~ExampleReader() = default;

bool ExampleReader::next(Example& example) {
  Impl& s = *impl_;
  while (s.fasta.next(s.record)) {
    ++s.counts.records;
    s.counts.empty_skipped = s.fasta.empty_skipped();
    Header header = parse_header(s.record.header);
    if (s.options.only && split_of(header.accession, s.options.split) != *s.options.only) {
      ++s.counts.other_split;
      continue;
    }
    if (!passes(header, static_cast<int64_t>(s.record.sequence.size()), s.options.filter)) {
      ++s.counts.filtered;
      continue;
    }
    example.residues.clear();
    if (!Vocabulary::encode(s.record.sequence, s.options.unknown, example.residues, s.fasta.where(s.record))) {
      ++s.counts.unknown_skipped;
      continue;
    }
    example.id = header.id;
    example.accession = header.accession;
    ++s.counts.kept;
    s.counts.residues += example.residues.size();
    return true;
  }
  s.counts.empty_skipped = s.fasta.empty_skipped();
  return false;
}

const ReadCounts& ExampleReader::counts() const { return impl_->counts; }

std::vector<int32_t> frame(const std::vector<int32_t>& residues, int64_t max_length, std::mt19937_64& rng) {
  require_config(max_length >= 3, "max_length must leave room for <cls>, one residue and <eos>");
  const int64_t room = max_length - 2;
  const int64_t n = static_cast<int64_t>(residues.size());
  int64_t start = 0, take = n;
  if (n > room) {
    start = std::uniform_int_distribution<int64_t>(0, n - room)(rng);
    take = room;
  }
  std::vector<int32_t> out;
  out.reserve(take + 2);
  out.push_back(Vocabulary::kCls);
  out.insert(out.end(), residues.begin() + start, residues.begin() + start + take);
  out.push_back(Vocabulary::kEos);
  return out;
}

WindowPacker::WindowPacker(int64_t length) : length_(length) {
  require_config(length >= 3, "window length must be at least 3");
}

void WindowPacker::add(const std::vector<int32_t>& residues) {
  pending_.insert(pending_.end(), residues.begin(), residues.end());
  pending_.push_back(Vocabulary::kEos);
}

bool WindowPacker::next(std::vector<int32_t>& window) {
  if (static_cast<int64_t>(pending_.size()) < length_ - 1) return false;
  window.assign(1, Vocabulary::kCls);
  window.insert(window.end(), pending_.begin(), pending_.begin() + (length_ - 1));
  pending_.erase(pending_.begin(), pending_.begin() + (length_ - 1));
  return true;
}

bool WindowPacker::flush(std::vector<int32_t>& window) {
  if (pending_.empty()) return false;
  window.assign(1, Vocabulary::kCls);
  window.insert(window.end(), pending_.begin(), pending_.end());
  pending_.clear();
  return true;
}

namespace {

// Tensors of a batch with every row padded to the longest; targets start as core::kIgnoreIndex.
Batch empty_batch(int64_t rows, int64_t length) {
  Batch b;
  b.tokens = at::full({rows, length}, Vocabulary::kPad, at::kLong);
  b.targets = at::full({rows, length}, core::kIgnoreIndex, at::kLong);
  b.padding = at::ones({rows, length}, at::kBool);
  return b;
}

int64_t longest(const std::vector<std::vector<int32_t>>& rows, int64_t trim) {
  int64_t l = 1;
  for (const auto& r : rows) l = std::max<int64_t>(l, static_cast<int64_t>(r.size()) - trim);
  return l;
}

}  // namespace

Batch make_mlm_batch(const std::vector<std::vector<int32_t>>& rows, const MaskingOptions& options,
                     std::mt19937_64& rng) {
  Batch b = empty_batch(static_cast<int64_t>(rows.size()), longest(rows, 0));
  auto tokens = b.tokens.accessor<int64_t, 2>();
  auto targets = b.targets.accessor<int64_t, 2>();
  auto padding = b.padding.accessor<bool, 2>();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int32_t> residue(Vocabulary::kFirstResidue,
                                                 Vocabulary::kFirstResidue + Vocabulary::kStandard - 1);
  std::vector<int64_t> candidates;
  for (size_t i = 0; i < rows.size(); ++i) {
    candidates.clear();
    for (size_t j = 0; j < rows[i].size(); ++j) {
      tokens[i][j] = rows[i][j];
      padding[i][j] = false;
      if (!Vocabulary::is_special(rows[i][j])) candidates.push_back(static_cast<int64_t>(j));
    }
    bool any = false;
    auto select = [&](int64_t j) {
      targets[i][j] = rows[i][j];
      ++b.target_count;
      any = true;
      const double r = unit(rng);
      if (r < options.mask) tokens[i][j] = Vocabulary::kMask;
      else if (r < options.mask + options.random) tokens[i][j] = residue(rng);
    };
    for (int64_t j : candidates) {
      if (unit(rng) < options.fraction) select(j);
    }
    if (!any && !candidates.empty()) {
      select(candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng)]);
    }
  }
  return b;
}

Batch make_ar_batch(const std::vector<std::vector<int32_t>>& rows) {
  Batch b = empty_batch(static_cast<int64_t>(rows.size()), longest(rows, 1));
  auto tokens = b.tokens.accessor<int64_t, 2>();
  auto targets = b.targets.accessor<int64_t, 2>();
  auto padding = b.padding.accessor<bool, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j + 1 < rows[i].size(); ++j) {
      tokens[i][j] = rows[i][j];
      targets[i][j] = rows[i][j + 1];
      padding[i][j] = false;
      ++b.target_count;
    }
  }
  return b;
}

struct BatchLoader::Impl {
  std::string path;
  ReadOptions read;
  LoaderOptions options;
  std::mt19937_64 rng;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> queue;
  bool done = false;
  std::atomic<bool> stop{false};  // set by the consumer's destructor, read by the loader thread without the lock
  std::exception_ptr error;
  ReadCounts counts;
  std::thread thread;

  void push(Batch&& batch) {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return stop || static_cast<int>(queue.size()) < options.prefetch; });
    if (!stop) queue.push_back(std::move(batch));
    changed.notify_all();
  }

  // Sorts a pool of rows by length, cuts it into batches under the token budget, queues them.
  void emit(std::vector<std::vector<int32_t>>& pool) {
    if (pool.empty()) return;
    std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
    std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) into pool
    size_t begin = 0;
    for (size_t i = 0; i < pool.size(); ++i) {
      const int64_t width = static_cast<int64_t>(pool[i].size());
      if (i > begin && width * static_cast<int64_t>(i - begin + 1) > options.tokens_per_batch) {
        spans.emplace_back(begin, i);
        begin = i;
      }
    }
    spans.emplace_back(begin, pool.size());
    if (options.shuffle) std::shuffle(spans.begin(), spans.end(), rng);
    for (auto [b, e] : spans) {
      std::vector<std::vector<int32_t>> rows(std::make_move_iterator(pool.begin() + b),
                                             std::make_move_iterator(pool.begin() + e));
      push(options.objective == Objective::mlm ? make_mlm_batch(rows, options.masking, rng)
                                               : make_ar_batch(rows));
      if (stop) return;
    }
    pool.clear();
  }

  void run() {
    try {
      ExampleReader reader(path, read);
      WindowPacker packer(options.max_length);
      std::vector<std::vector<int32_t>> pool;
      std::vector<int32_t> window;
      Example example;
      while (!stop && reader.next(example)) {
        if (options.concatenate) {
          packer.add(example.residues);
          while (packer.next(window)) pool.push_back(window);
        } else {
          pool.push_back(frame(example.residues, options.max_length, rng));
        }
        if (static_cast<int64_t>(pool.size()) >= options.pool) emit(pool);
      }
      if (options.concatenate && packer.flush(window)) pool.push_back(window);
      emit(pool);
      std::lock_guard<std::mutex> lock(mutex);
      counts = reader.counts();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
    changed.notify_all();
  }
};

BatchLoader::BatchLoader(const std::string& path, ReadOptions read, LoaderOptions options, uint64_t epoch)
    : impl_(std::make_unique<Impl>()) {
  require_config(options.tokens_per_batch >= options.max_length,
                 "tokens_per_batch must be at least max_length");
  require_config(options.prefetch >= 1 && options.pool >= 1, "prefetch and pool must be positive");
  impl_->path = path;
  impl_->read = std::move(read);
  impl_->options = options;
  impl_->rng.seed(options.seed * 0x9E3779B97F4A7C15ULL + epoch);
  impl_->thread = std::thread([this] { impl_->run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
    impl_->changed.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool BatchLoader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->changed.wait(lock, [&] { return !impl_->queue.empty() || impl_->done; });
  if (!impl_->queue.empty()) {
    batch = std::move(impl_->queue.front());
    impl_->queue.pop_front();
    impl_->changed.notify_all();
    return true;
  }
  if (impl_->error) std::rethrow_exception(impl_->error);
  return false;
}

ReadCounts BatchLoader::counts() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->counts;
}

}  // namespace performer::bio
