#include "bio/epoch.h"

#include <algorithm>
#include <numeric>

#include "core/errors.h"

namespace performer::bio {
namespace {

// splitmix64's finaliser: a good 64-bit mix, the same on every platform (std::shuffle and the
// standard distributions are not, and a plan must be reproducible anywhere).
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) { return mix(mix(mix(a) ^ b) ^ c); }

// A draw in [0, bound) from 64 random bits (multiply-shift; the bias is below 2^-32 for any bound
// a window can have).
uint64_t below(uint64_t bits, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * bound) >> 64);
}

constexpr uint64_t kWindowSalt = 0x57494E444F57ULL;  // "WINDOW"
constexpr uint64_t kCropSalt = 0x43524F50ULL;        // "CROP"
constexpr uint64_t kBatchSalt = 0x4241544348ULL;     // "BATCH"
constexpr uint64_t kOrderSalt = 0x4F52444552ULL;     // "ORDER"

}  // namespace

Permutation::Permutation(uint64_t n, uint64_t seed) : n_(n) {
  int bits = 2;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  if (bits % 2) ++bits;
  half_bits_ = bits / 2;
  half_mask_ = half_bits_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << half_bits_) - 1;
  for (size_t r = 0; r < keys_.size(); ++r) keys_[r] = mix3(seed, kOrderSalt, r);
}

uint64_t Permutation::round_trip(uint64_t x) const {
  uint64_t left = x >> half_bits_, right = x & half_mask_;
  for (uint64_t key : keys_) {
    const uint64_t next = left ^ (mix(right ^ key) & half_mask_);
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t Permutation::operator()(uint64_t i) const {
  // Cycle walking: the network permutes [0, 4^half_bits), which is less than 4n; following the cycle
  // from i until it re-enters [0, n) gives a bijection of [0, n) (on average under 4 rounds trips).
  uint64_t x = round_trip(i);
  while (x >= n_) x = round_trip(x);
  return x;
}

int64_t PlannedBatch::tokens() const {
  int64_t sum = 0;
  for (const auto& r : rows) sum += r.tokens;
  return sum;
}

int64_t PlannedBatch::width() const {
  int64_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.tokens);
  return w;
}

uint32_t crop_start(uint64_t length, int64_t max_length, uint64_t seed, uint64_t epoch, uint64_t sequence) {
  const uint64_t room = static_cast<uint64_t>(max_length - 2);
  if (length <= room) return 0;
  return static_cast<uint32_t>(below(mix3(seed ^ kCropSalt, epoch, sequence), length - room + 1));
}

uint64_t batch_seed(uint64_t seed, uint64_t epoch, uint64_t batch) { return mix3(seed ^ kBatchSalt, epoch, batch); }

EpochPlan::EpochPlan(uint64_t sequences, Lengths length, PlanOptions options, uint64_t epoch)
    : sequences_(sequences),
      length_(std::move(length)),
      options_(options),
      epoch_(epoch),
      permutation_(sequences, mix3(options.seed, epoch, kOrderSalt)) {
  require_config(options_.max_length >= 3, "max_length must leave room for <cls>, one residue and <eos>");
  require_config(options_.tokens_per_batch >= options_.max_length, "tokens_per_batch must be at least max_length");
  require_config(options_.window >= 1, "the bucketing window must hold at least one sequence");
  require_config(options_.world >= 1 && options_.rank >= 0 && options_.rank < options_.world,
                 "rank must be in [0, world size)");
}

bool EpochPlan::plan_window() {
  const uint64_t window_size = static_cast<uint64_t>(options_.window);
  const uint64_t first = window_ * window_size;
  if (first >= sequences_) return false;
  const uint64_t last = std::min(sequences_, first + window_size);
  const auto order = [&](uint64_t i) { return options_.shuffle ? permutation_(i) : i; };

  std::vector<PlannedRow> rows;
  const int64_t room = options_.max_length - 2;
  if (!options_.concatenate) {
    rows.reserve(last - first);
    for (uint64_t i = first; i < last; ++i) {
      const uint64_t s = order(i);
      const uint64_t n = length_(s);
      const uint64_t take = std::min<uint64_t>(n, static_cast<uint64_t>(room));
      const uint32_t start = crop_start(n, options_.max_length, options_.seed, epoch_, s);
      PlannedRow row;
      row.pieces.push_back({s, start, static_cast<uint32_t>(take), true});
      row.tokens = static_cast<int64_t>(take) + 2;
      rows.push_back(std::move(row));
    }
  } else {
    // <cls>, then the stream s1 <eos> s2 <eos> ... cut into rows of max_length tokens; the window's
    // last row may be shorter. A sequence (or its <eos>) cut at a row's end continues in the next.
    const int64_t body = options_.max_length - 1;
    PlannedRow row;
    row.tokens = 1;
    auto close_row = [&] {
      if (row.pieces.empty()) return;
      rows.push_back(std::move(row));
      row = PlannedRow{};
      row.tokens = 1;
    };
    for (uint64_t i = first; i < last; ++i) {
      const uint64_t s = order(i);
      const uint64_t n = length_(s);
      uint64_t at = 0;
      bool eos_left = true;
      while (at < n || eos_left) {
        const int64_t free = body - (row.tokens - 1);
        const uint64_t take = std::min<uint64_t>(n - at, static_cast<uint64_t>(free));
        const bool eos = at + take == n && take < static_cast<uint64_t>(free);
        row.pieces.push_back({s, static_cast<uint32_t>(at), static_cast<uint32_t>(take), eos});
        row.tokens += static_cast<int64_t>(take) + (eos ? 1 : 0);
        at += take;
        if (eos) eos_left = false;
        if (row.tokens - 1 == body) close_row();
      }
    }
    close_row();
  }

  // Bucket by length, cut under the token budget (rows x longest row), shuffle the batches.
  std::vector<size_t> by_length(rows.size());
  std::iota(by_length.begin(), by_length.end(), size_t{0});
  std::stable_sort(by_length.begin(), by_length.end(),
                   [&](size_t a, size_t b) { return rows[a].tokens < rows[b].tokens; });
  std::vector<std::pair<size_t, size_t>> spans;
  size_t begin = 0;
  for (size_t i = 0; i < by_length.size(); ++i) {
    const int64_t width = rows[by_length[i]].tokens;
    if (i > begin && width * static_cast<int64_t>(i - begin + 1) > options_.tokens_per_batch) {
      spans.emplace_back(begin, i);
      begin = i;
    }
  }
  if (begin < by_length.size()) spans.emplace_back(begin, by_length.size());
  if (options_.shuffle) {
    const uint64_t key = mix3(options_.seed ^ kWindowSalt, epoch_, window_);
    for (size_t i = spans.size(); i > 1; --i) {
      std::swap(spans[i - 1], spans[below(mix3(key, i, 0), i)]);
    }
  }
  for (auto [b, e] : spans) {
    PlannedBatch batch;
    batch.index = planned_++;
    batch.window = window_;
    batch.first = first;
    batch.rows.reserve(e - b);
    for (size_t k = b; k < e; ++k) batch.rows.push_back(std::move(rows[by_length[k]]));
    pending_.push_back(std::move(batch));
  }
  ++window_;
  return true;
}

void EpochPlan::seek(uint64_t batch) {
  next_index_ = batch;
  while (true) {
    while (!pending_.empty() && pending_.front().index < next_index_) pending_.pop_front();
    if (!pending_.empty() || !plan_window()) return;
  }
}

bool EpochPlan::next(PlannedBatch& batch) {
  while (true) {
    if (pending_.empty() && !plan_window()) return false;
    if (pending_.empty()) continue;
    PlannedBatch front = std::move(pending_.front());
    pending_.pop_front();
    if (front.index < next_index_) continue;
    next_index_ = front.index + 1;
    if (static_cast<int64_t>(front.index % static_cast<uint64_t>(options_.world)) != options_.rank) continue;
    batch = std::move(front);
    return true;
  }
}

uint64_t EpochPlan::count(uint64_t sequences, const Lengths& length, const PlanOptions& options, uint64_t epoch) {
  PlanOptions all = options;
  all.rank = 0;
  all.world = 1;
  EpochPlan plan(sequences, length, all, epoch);
  while (plan.plan_window()) plan.pending_.clear();
  return plan.planned_;
}

}  // namespace performer::bio
