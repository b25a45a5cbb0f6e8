// Prepared data: FASTA -> shards -> sequences, the epoch order (permutation, partitions, resume),
// damaged folders, and an interrupted prepare.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include "bio/dataset.h"
#include "bio/epoch.h"
#include "bio/prepared.h"
#include "core/errors.h"
#include "tests/bio/files.h"

using namespace performer;
using namespace performer::bio;
namespace fs = std::filesystem;

namespace {

const Split kAll[] = {Split::train, Split::valid, Split::test};

// Records of many lengths (1 .. ~1200), lower case, an X, one Swiss-Prot-less plain header.
std::string varied_fasta(int n) {
  std::string text;
  const std::string letters = "ACDEFGHIKLMNPQRSTVWYacdefX";
  for (int i = 0; i < n; ++i) {
    text += i % 7 == 3 ? ">plain_" + std::to_string(i) + " no fields\n"
                       : ">sp|Q" + std::to_string(20000 + i) + "|P" + std::to_string(i) + "_YEAST x OX=4932\n";
    const int length = 1 + (i * 37) % 400 + (i % 13 == 0 ? 800 : 0);
    for (int j = 0; j < length; ++j) {
      text += letters[(i * 5 + j * 11) % letters.size()];
      if (j % 60 == 59) text += '\n';
    }
    text += '\n';
  }
  return text;
}

std::string fresh_folder(const std::string& name) {
  auto path = test::temp_path(name);
  fs::remove_all(path);
  for (const auto& e : fs::directory_iterator(path.parent_path())) {
    if (e.path().filename().string().rfind(name + ".tmp.", 0) == 0) fs::remove_all(e.path());
  }
  return path.string();
}

PrepareOptions prepare_options(const std::string& input, const std::string& out) {
  PrepareOptions o;
  o.inputs = {input};
  o.out = out;
  o.unknown = UnknownPolicy::x;
  o.split.valid_fraction = 0.2;
  o.split.test_fraction = 0.1;
  return o;
}

std::string as_string(std::string_view tokens) { return std::string(tokens); }

std::string bytes_of(const std::vector<int32_t>& ids) { return std::string(ids.begin(), ids.end()); }

}  // namespace

TEST(Prepared, RoundTripMatchesTheFastaPath) {
  const std::string fasta = test::write_gzip("prepared-round.fasta.gz", varied_fasta(300));
  const std::string out = fresh_folder("prepared-round");
  PrepareOptions o = prepare_options(fasta, out);
  o.filter.min_length = 5;
  o.shard_bytes = 4000;  // many shards: sequences cross no shard boundary, shards close at the limit
  const PrepareReport report = prepare(o);
  EXPECT_GT(report.shards, 6u);
  ASSERT_TRUE(is_prepared(out));
  PreparedData data(out);
  data.verify();
  for (Split split : kAll) {
    ReadOptions read;
    read.unknown = UnknownPolicy::x;
    read.split = o.split;
    read.filter = o.filter;
    read.only = split;
    ExampleReader reader(fasta, read);
    Example e;
    uint64_t i = 0, residues = 0;
    while (reader.next(e)) {
      ASSERT_LT(i, data.sequences(split));
      EXPECT_EQ(data.id(split, i), e.id);
      EXPECT_EQ(as_string(data.tokens(split, i)), bytes_of(e.residues)) << e.id;
      residues += e.residues.size();
      ++i;
    }
    EXPECT_EQ(i, data.sequences(split)) << to_string(split);
    EXPECT_EQ(residues, data.residues(split));
    EXPECT_EQ(report.sequences[static_cast<size_t>(split)], i);
  }
  EXPECT_GT(data.sequences(Split::valid), 20u);
  EXPECT_GT(report.filtered, 0u);
  EXPECT_EQ(data.manifest()["counts"]["kept"].get<uint64_t>(), report.kept);
  // Every shard's .tok within the size asked for (no single sequence is longer here).
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".tok") {
      EXPECT_LE(fs::file_size(e.path()), 4000u) << e.path();
    }
  }
}

TEST(Prepared, RefusesToReplaceWithoutForce) {
  const std::string fasta = test::write_plain("prepared-force.fasta", varied_fasta(20));
  const std::string out = fresh_folder("prepared-force");
  prepare(prepare_options(fasta, out));
  const std::string before = test::read_bytes(out + "/manifest.json");
  EXPECT_THROW(prepare(prepare_options(fasta, out)), ConfigError);
  EXPECT_EQ(test::read_bytes(out + "/manifest.json"), before);
  PrepareOptions force = prepare_options(fasta, out);
  force.force = true;
  EXPECT_NO_THROW(prepare(force));
  // A folder of other things is never replaced, even with --force.
  const std::string other = fresh_folder("prepared-other");
  fs::create_directories(other);
  std::ofstream(other + "/notes.txt") << "mine";
  force.out = other;
  EXPECT_THROW(prepare(force), ConfigError);
  EXPECT_EQ(test::read_bytes(other + "/notes.txt"), "mine");
}

TEST(Prepared, DamagedFoldersAreOneLineErrorsNamingTheFile) {
  const std::string fasta = test::write_plain("prepared-damage.fasta", varied_fasta(60));
  const std::string clean = fresh_folder("prepared-clean");
  prepare(prepare_options(fasta, clean));
  auto copy = [&](const std::string& name) {
    const std::string to = fresh_folder(name);
    fs::copy(clean, to);
    return to;
  };
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // A flipped residue byte: opening is fine (sizes agree), verification names the file.
  {
    const std::string d = copy("prepared-flip");
    std::fstream f(d + "/train-00000.tok", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(10);
    const char was = static_cast<char>(f.get());
    f.seekp(10);
    f.put(was == 8 ? 9 : 8);  // another valid residue id: only the checksum can tell
    f.close();
    PreparedData data(d);
    const std::string m = message([&] { data.verify(); });
    EXPECT_NE(m.find("train-00000.tok"), std::string::npos) << m;
    EXPECT_NE(m.find("CRC-32"), std::string::npos) << m;
  }
  // A truncated index or token file: opening fails, naming it.
  {
    const std::string d = copy("prepared-cut");
    fs::resize_file(d + "/train-00000.idx", fs::file_size(d + "/train-00000.idx") - 16);
    const std::string m = message([&] { PreparedData data(d); });
    EXPECT_NE(m.find("train-00000.idx"), std::string::npos) << m;
  }
  {
    const std::string d = copy("prepared-cut-tok");
    fs::resize_file(d + "/valid-00000.tok", 3);
    const std::string m = message([&] { PreparedData data(d); });
    EXPECT_NE(m.find("valid-00000.tok"), std::string::npos) << m;
  }
  // A missing shard file.
  {
    const std::string d = copy("prepared-missing");
    fs::remove(d + "/test-00000.ids");
    const std::string m = message([&] { PreparedData data(d); });
    EXPECT_NE(m.find("test-00000.ids"), std::string::npos) << m;
  }
  // Another format version, another vocabulary, junk instead of a manifest, no manifest.
  auto with_manifest = [&](const std::string& name, const std::string& from, const std::string& to) {
    const std::string d = copy(name);
    std::string text = test::read_bytes(d + "/manifest.json");
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos);
    text.replace(at, from.size(), to);
    std::ofstream(d + "/manifest.json", std::ios::trunc) << text;
    return message([&] { PreparedData data(d); });
  };
  EXPECT_NE(with_manifest("prepared-version", "\"version\": 2", "\"version\": 7").find("version 7"), std::string::npos);
  EXPECT_NE(with_manifest("prepared-vocab", "performer-protein-v1", "other-vocab-v9").find("other-vocab-v9"),
            std::string::npos);
  EXPECT_NE(with_manifest("prepared-junk", "{", "\x01\x02 junk").find("manifest.json"), std::string::npos);
  {
    const std::string d = copy("prepared-nomanifest");
    fs::remove(d + "/manifest.json");
    EXPECT_NE(message([&] { PreparedData data(d); }).find("not a prepared data folder"), std::string::npos);
  }
  // A damaged index entry (offsets out of order) reached by a loader: an InputError, no wild read.
  {
    const std::string d = copy("prepared-entry");
    std::fstream f(d + "/train-00000.idx", std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t huge = 1ull << 40;
    f.seekp(static_cast<std::streamoff>(kIndexHeader + kIndexEntry * 2));
    f.write(reinterpret_cast<const char*>(&huge), sizeof huge);
    f.close();
    PreparedData data(d);
    EXPECT_NE(message([&] { data.tokens(Split::train, 2); }).find("train-00000.idx"), std::string::npos);
    EXPECT_NE(message([&] { data.verify(); }).find("train-00000.idx"), std::string::npos);
  }
}

TEST(Permutation, IsABijectionThatDependsOnTheSeed) {
  for (uint64_t n : {1ull, 2ull, 3ull, 5ull, 17ull, 1000ull, 4097ull, 65536ull}) {
    Permutation p(n, 42);
    std::vector<char> seen(n, 0);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t j = p(i);
      ASSERT_LT(j, n);
      ASSERT_FALSE(seen[j]) << n;
      seen[j] = 1;
    }
  }
  Permutation a(1000, 1), b(1000, 2);
  int same = 0, fixed = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    same += a(i) == b(i);
    fixed += a(i) == i;
  }
  EXPECT_LT(same, 20);  // about 1 expected
  EXPECT_LT(fixed, 20);
}

namespace {

std::vector<uint64_t> lengths_for_plans(uint64_t n) {
  std::vector<uint64_t> lengths(n);
  for (uint64_t i = 0; i < n; ++i) lengths[i] = i % 10 == 0 ? 900 + i % 300 : 20 + (i * 37) % 280;
  return lengths;
}

PlanOptions plan_options(bool concatenate) {
  PlanOptions o;
  o.max_length = 256;
  o.tokens_per_batch = 2048;
  o.window = 97;
  o.concatenate = concatenate;
  o.seed = 5;
  return o;
}

std::vector<PlannedBatch> all_batches(EpochPlan& plan) {
  std::vector<PlannedBatch> out;
  PlannedBatch b;
  while (plan.next(b)) out.push_back(b);
  return out;
}

}  // namespace

TEST(EpochPlan, EveryResidueOncePerEpochInAnOrderThatChanges) {
  const auto lengths = lengths_for_plans(1000);
  const auto length = [&](uint64_t i) { return lengths[i]; };
  for (bool concatenate : {false, true}) {
    std::vector<uint64_t> first_order;
    for (uint64_t epoch : {0, 1}) {
      EpochPlan plan(lengths.size(), length, plan_options(concatenate), epoch);
      std::vector<uint64_t> covered(lengths.size(), 0), eos(lengths.size(), 0), order;
      for (const auto& batch : all_batches(plan)) {
        EXPECT_LE(batch.width() * static_cast<int64_t>(batch.rows.size()), 2048);
        for (const auto& row : batch.rows) {
          EXPECT_LE(row.tokens, 256);
          int64_t tokens = 1;
          for (const auto& piece : row.pieces) {
            covered[piece.sequence] += piece.length;
            eos[piece.sequence] += piece.eos;
            tokens += piece.length + piece.eos;
            if (order.empty() || order.back() != piece.sequence) order.push_back(piece.sequence);
            if (!concatenate) {
              EXPECT_LE(piece.start + piece.length, lengths[piece.sequence]);
            }
          }
          EXPECT_EQ(tokens, row.tokens);
        }
      }
      for (uint64_t i = 0; i < lengths.size(); ++i) {
        ASSERT_EQ(eos[i], 1u) << i;
        // Crops keep up to 254 residues; packed rows keep every residue.
        ASSERT_EQ(covered[i], concatenate ? lengths[i] : std::min<uint64_t>(lengths[i], 254)) << i;
      }
      if (epoch == 0) first_order = order;
      else EXPECT_NE(order, first_order);
    }
  }
}

TEST(EpochPlan, PartitionsAreDisjointCompleteAndBalancedByTokens) {
  // Half the sequences are 10x longer: a split by count would give some workers far more tokens.
  std::vector<uint64_t> lengths(3000);
  for (uint64_t i = 0; i < lengths.size(); ++i) lengths[i] = i < 1500 ? 240 : 24;
  const auto length = [&](uint64_t i) { return lengths[i]; };
  PlanOptions o = plan_options(false);
  o.window = 512;
  std::vector<uint64_t> whole;
  for (int64_t world = 1; world <= 5; ++world) {
    std::vector<uint64_t> seen;
    std::vector<int64_t> tokens(world, 0);
    std::set<uint64_t> indices;
    for (int64_t rank = 0; rank < world; ++rank) {
      o.rank = rank;
      o.world = world;
      EpochPlan plan(lengths.size(), length, o, 3);
      for (const auto& batch : all_batches(plan)) {
        EXPECT_EQ(static_cast<int64_t>(batch.index % world), rank);
        EXPECT_TRUE(indices.insert(batch.index).second);
        tokens[rank] += batch.tokens();
        for (const auto& row : batch.rows) seen.push_back(row.pieces[0].sequence);
      }
    }
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), lengths.size());  // complete, and disjoint: each sequence once
    for (uint64_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
    // Workers take turns through one stream of batches cut under one token budget: their batch
    // counts differ by at most one (lock-step training) and their tokens by a few partial batches.
    const auto [lo, hi] = std::minmax_element(tokens.begin(), tokens.end());
    const int64_t total = std::accumulate(tokens.begin(), tokens.end(), int64_t{0});
    EXPECT_LE(static_cast<double>(*hi - *lo) / (static_cast<double>(total) / world), 0.1) << "world " << world;
    const uint64_t batches = *indices.rbegin() + 1;
    for (int64_t rank = 0; rank < world; ++rank) {
      uint64_t mine = 0;
      for (uint64_t k : indices) mine += static_cast<int64_t>(k % world) == rank;
      EXPECT_LE(batches / world, mine);
      EXPECT_LE(mine, batches / world + 1);
    }
  }
}

TEST(EpochPlan, SeekingEqualsSkippingForAnyWorldSize) {
  const auto lengths = lengths_for_plans(700);
  const auto length = [&](uint64_t i) { return lengths[i]; };
  EpochPlan straight(lengths.size(), length, plan_options(true), 2);
  const auto all = all_batches(straight);
  ASSERT_GT(all.size(), 40u);
  for (uint64_t start : {0ull, 1ull, 13ull, 29ull}) {
    // Resumed at `start` on 1, 2 and 3 workers: together, exactly the batches from `start` on.
    for (int64_t world = 1; world <= 3; ++world) {
      std::map<uint64_t, size_t> rows_of;
      for (int64_t rank = 0; rank < world; ++rank) {
        PlanOptions o = plan_options(true);
        o.rank = rank;
        o.world = world;
        EpochPlan resumed(lengths.size(), length, o, 2);
        resumed.seek(start);
        for (const auto& b : all_batches(resumed)) rows_of[b.index] = b.rows.size();
      }
      ASSERT_EQ(rows_of.size(), all.size() - start);
      for (uint64_t k = start; k < all.size(); ++k) EXPECT_EQ(rows_of[k], all[k].rows.size());
    }
  }
}

TEST(PreparedLoader, BatchesFromShardsMatchThePlanAndResumeExactly) {
  const std::string fasta = test::write_plain("prepared-loader.fasta", varied_fasta(400));
  const std::string out = fresh_folder("prepared-loader");
  prepare(prepare_options(fasta, out));
  auto data = std::make_shared<const PreparedData>(out);
  LoaderOptions o;
  o.max_length = 128;
  o.tokens_per_batch = 1024;
  o.pool = 64;
  o.seed = 9;
  for (Objective objective : {Objective::mlm, Objective::ar}) {
    o.objective = objective;
    std::vector<Batch> all;
    {
      PreparedLoader loader(data, Split::train, o, 1);
      Batch b;
      while (loader.next(b)) all.push_back(b);
    }
    ASSERT_GT(all.size(), 10u);
    // Every residue of every row is a residue of the data: count <cls> rows = sequences.
    int64_t rows = 0;
    for (const auto& b : all) rows += b.tokens.size(0);
    EXPECT_EQ(static_cast<uint64_t>(rows), data->sequences(Split::train));
    // Resumed at batch 7, on one worker and split between two: the same batches, bit for bit.
    PreparedLoader resumed(data, Split::train, o, 1);
    resumed.skip(7);
    PreparedLoader even(data, Split::train, o, 1, 0, 2), odd(data, Split::train, o, 1, 1, 2);
    even.skip(7);
    odd.skip(7);
    Batch b, e;
    for (size_t k = 7; k < all.size(); ++k) {
      ASSERT_TRUE(resumed.next(b));
      EXPECT_TRUE(b.tokens.equal(all[k].tokens));
      EXPECT_TRUE(b.targets.equal(all[k].targets));
      ASSERT_TRUE((k % 2 == 0 ? even : odd).next(e));
      EXPECT_TRUE(e.tokens.equal(all[k].tokens));
      EXPECT_TRUE(e.targets.equal(all[k].targets));
    }
    EXPECT_FALSE(resumed.next(b));
    EXPECT_FALSE(even.next(e));
    EXPECT_FALSE(odd.next(e));
  }
}

TEST(Prepared, AKilledPrepareLeavesNothingThatReadsAsComplete) {
  // A run killed (SIGKILL, in a child process) half way through its input.
  const std::string fasta = test::write_plain("prepared-kill.fasta", varied_fasta(3000));
  const std::string out = fresh_folder("prepared-kill");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    PrepareOptions o = prepare_options(fasta, out);
    o.shard_bytes = 20000;
    try {
      int calls = 0;  // one call every 256 records read, and one at the end
      prepare(o, [&calls](const PrepareProgress&) {
        if (++calls == 5) ::kill(::getpid(), SIGKILL);
      });
    } catch (...) {
    }
    _exit(3);  // not reached when killed
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(is_prepared(out));
  int temporaries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
    temporaries += e.path().filename().string().rfind("prepared-kill.tmp.", 0) == 0;
  }
  EXPECT_EQ(temporaries, 1);
  EXPECT_THROW(PreparedData{out}, InputError);
  // Running it again sweeps the dead run's temporary and finishes.
  const PrepareReport report = prepare(prepare_options(fasta, out));
  EXPECT_EQ(report.removed_stale.size(), 1u);
  EXPECT_EQ(report.kept, 3000u);
  PreparedData(out).verify();
  temporaries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
    temporaries += e.path().filename().string().rfind("prepared-kill.tmp.", 0) == 0;
  }
  EXPECT_EQ(temporaries, 0);
}
