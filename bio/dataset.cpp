#include "bio/dataset.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <exception>
#include <mutex>
#include <thread>

#include "bio/epoch.h"
#include "bio/fasta.h"
#include "bio/prepared.h"
#include "core/errors.h"

namespace performer::bio {

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
    // The description's fields matter only to the taxon filter.
    const Header header = s.options.filter.taxids.empty() ? parse_header_id(s.record.header) : parse_header(s.record.header);
    if (s.options.only && split_of(header.accession, s.options.split) != *s.options.only) {
      ++s.counts.other_split;
      continue;
    }
    if (!passes(header, static_cast<int64_t>(s.record.sequence.size()), s.options.filter)) {
      ++s.counts.filtered;
      continue;
    }
    example.residues.clear();
    const std::string where = s.options.unknown == UnknownPolicy::error ? s.fasta.where(s.record) : std::string();
    if (!Vocabulary::encode(s.record.sequence, s.options.unknown, example.residues, where)) {
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

namespace {

// A producer thread filling a bounded queue of batches: what both loaders share. The producer
// returns when push() says stop (the consumer is gone); an exception it throws reaches the consumer
// at the end of the queue.
class BackgroundBatches {
 public:
  explicit BackgroundBatches(int depth) : depth_(depth) {}
  ~BackgroundBatches() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  void start(std::function<void()> produce) {
    thread_ = std::thread([this, produce = std::move(produce)] {
      try {
        produce();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      changed_.notify_all();
    });
  }
  bool started() const { return thread_.joinable(); }

  // Producer: queues a batch, waiting while the queue is full. False when the consumer has gone.
  bool push(Batch&& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return stop_.load() || static_cast<int>(queue_.size()) < depth_; });
    if (stop_) return false;
    queue_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }
  bool stopping() const { return stop_; }

  // Consumer: the next batch; false at the end; rethrows the producer's exception.
  bool next(Batch& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      batch = std::move(queue_.front());
      queue_.pop_front();
      changed_.notify_all();
      return true;
    }
    if (error_) std::rethrow_exception(error_);
    return false;
  }

  // Runs f under the queue's lock (results the producer hands over at its end).
  template <typename F>
  auto locked(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    return f();
  }

 private:
  int depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;
  bool done_ = false;
  std::atomic<bool> stop_{false};  // set by the consumer's destructor, read by the producer
  std::exception_ptr error_;
  std::thread thread_;
};

// Sorts rows by length, cuts them into batches under the token budget, shuffles them if asked.
// Returns [begin, end) spans into the sorted rows.
std::vector<std::pair<size_t, size_t>> bucket(std::vector<std::vector<int32_t>>& pool, int64_t tokens_per_batch) {
  std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) into pool
  size_t begin = 0;
  for (size_t i = 0; i < pool.size(); ++i) {
    const int64_t width = static_cast<int64_t>(pool[i].size());
    if (i > begin && width * static_cast<int64_t>(i - begin + 1) > tokens_per_batch) {
      spans.emplace_back(begin, i);
      begin = i;
    }
  }
  spans.emplace_back(begin, pool.size());
  return spans;
}

Batch make_batch(const std::vector<std::vector<int32_t>>& rows, const LoaderOptions& options, std::mt19937_64& rng) {
  return options.objective == Objective::mlm ? make_mlm_batch(rows, options.masking, rng) : make_ar_batch(rows);
}

}  // namespace

struct BatchLoader::Impl {
  std::string path;
  ReadOptions read;
  LoaderOptions options;
  std::mt19937_64 rng;
  ReadCounts counts;
  BackgroundBatches background;

  explicit Impl(int depth) : background(depth) {}

  // Sorts a pool of rows by length, cuts it into batches under the token budget, queues them.
  void emit(std::vector<std::vector<int32_t>>& pool) {
    if (pool.empty()) return;
    auto spans = bucket(pool, options.tokens_per_batch);
    if (options.shuffle) std::shuffle(spans.begin(), spans.end(), rng);
    for (auto [b, e] : spans) {
      std::vector<std::vector<int32_t>> rows(std::make_move_iterator(pool.begin() + b),
                                             std::make_move_iterator(pool.begin() + e));
      if (!background.push(make_batch(rows, options, rng))) return;
    }
    pool.clear();
  }

  void run() {
    ExampleReader reader(path, read);
    WindowPacker packer(options.max_length);
    std::vector<std::vector<int32_t>> pool;
    std::vector<int32_t> window;
    Example example;
    while (!background.stopping() && reader.next(example)) {
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
    background.locked([&] { counts = reader.counts(); });
  }
};

BatchLoader::BatchLoader(const std::string& path, ReadOptions read, LoaderOptions options, uint64_t epoch) {
  require_config(options.tokens_per_batch >= options.max_length,
                 "tokens_per_batch must be at least max_length");
  require_config(options.prefetch >= 1 && options.pool >= 1, "prefetch and pool must be positive");
  impl_ = std::make_unique<Impl>(options.prefetch);
  impl_->path = path;
  impl_->read = std::move(read);
  impl_->options = options;
  impl_->rng.seed(options.seed * 0x9E3779B97F4A7C15ULL + epoch);
  impl_->background.start([this] { impl_->run(); });
}

BatchLoader::~BatchLoader() = default;

bool BatchLoader::next(Batch& batch) { return impl_->background.next(batch); }

ReadCounts BatchLoader::counts() const {
  return impl_->background.locked([&] { return impl_->counts; });
}

struct PreparedLoader::Impl {
  std::shared_ptr<const PreparedData> data;
  Split split;
  LoaderOptions options;
  uint64_t epoch;
  EpochPlan plan;
  BackgroundBatches background;

  Impl(std::shared_ptr<const PreparedData> d, Split s, const LoaderOptions& o, uint64_t e, int64_t rank, int64_t world)
      : data(std::move(d)),
        split(s),
        options(o),
        epoch(e),
        plan(data->sequences(s), [data = data.get(), s](uint64_t i) { return data->length(s, i); },
             plan_options(o, rank, world), e),
        background(o.prefetch) {}

  static PlanOptions plan_options(const LoaderOptions& o, int64_t rank, int64_t world) {
    PlanOptions p;
    p.max_length = o.max_length;
    p.concatenate = o.concatenate;
    p.tokens_per_batch = o.tokens_per_batch;
    p.window = o.pool;
    p.shuffle = o.shuffle;
    p.seed = o.seed;
    p.rank = rank;
    p.world = world;
    return p;
  }

  // The token rows of a planned batch, read from the shards (every byte checked to be a residue).
  std::vector<std::vector<int32_t>> rows_of(const PlannedBatch& planned) const {
    std::vector<std::vector<int32_t>> rows(planned.rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      auto& row = rows[r];
      row.reserve(static_cast<size_t>(planned.rows[r].tokens));
      row.push_back(Vocabulary::kCls);
      for (const Piece& piece : planned.rows[r].pieces) {
        const std::string_view residues = data->tokens(split, piece.sequence);
        if (static_cast<uint64_t>(piece.start) + piece.length > residues.size()) {
          throw InputError(data->where(split, piece.sequence) + ": shorter than its index says");
        }
        for (uint32_t k = 0; k < piece.length; ++k) {
          const auto id = static_cast<unsigned char>(residues[piece.start + k]);
          if (id < Vocabulary::kFirstResidue || id >= Vocabulary::kSize) {
            throw InputError(data->where(split, piece.sequence) + ": residue " + std::to_string(piece.start + k) +
                             " holds the value " + std::to_string(id) +
                             ", not a residue id (the shard is damaged: prepare the data again)");
          }
          row.push_back(id);
        }
        if (piece.eos) row.push_back(Vocabulary::kEos);
      }
    }
    return rows;
  }

  void run() {
    PlannedBatch planned;
    while (!background.stopping() && plan.next(planned)) {
      std::mt19937_64 rng(batch_seed(options.seed, epoch, planned.index));
      if (!background.push(make_batch(rows_of(planned), options, rng))) return;
    }
  }
};

PreparedLoader::PreparedLoader(std::shared_ptr<const PreparedData> data, Split split, LoaderOptions options,
                               uint64_t epoch, int64_t rank, int64_t world) {
  require_config(options.prefetch >= 1 && options.pool >= 1, "prefetch and pool must be positive");
  impl_ = std::make_unique<Impl>(std::move(data), split, options, epoch, rank, world);
}

PreparedLoader::~PreparedLoader() = default;

void PreparedLoader::skip(int64_t batches) {
  if (impl_->background.started()) {
    core::BatchSource::skip(batches);
    return;
  }
  impl_->plan.seek(static_cast<uint64_t>(std::max<int64_t>(0, batches)));
}

bool PreparedLoader::next(Batch& batch) {
  if (!impl_->background.started()) impl_->background.start([this] { impl_->run(); });
  return impl_->background.next(batch);
}

}  // namespace performer::bio
