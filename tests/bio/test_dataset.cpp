#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "bio/dataset.h"
#include "core/errors.h"
#include "tests/bio/files.h"

using namespace performer;
using namespace performer::bio;

namespace {

std::string fasta_of(int n, int base_length = 20) {
  std::string text;
  const std::string letters = "ACDEFGHIKLMNPQRSTVWY";
  for (int i = 0; i < n; ++i) {
    text += ">sp|A" + std::to_string(10000 + i) + "|T" + std::to_string(i) + "_HUMAN test OS=Homo sapiens OX=" +
            std::string(i % 2 ? "9606" : "10090") + "\n";
    for (int j = 0; j < base_length + (i * 7) % 50; ++j) text += letters[(i + j * 3) % 20];
    text += "\n";
  }
  return text;
}

}  // namespace

TEST(Split, DeterministicStableAndInProportion) {
  SplitOptions o;
  std::map<Split, int> counts;
  for (int i = 0; i < 20000; ++i) ++counts[split_of("Q" + std::to_string(i), o)];
  EXPECT_NEAR(counts[Split::valid] / 20000.0, 0.05, 0.01);
  EXPECT_NEAR(counts[Split::test] / 20000.0, 0.05, 0.01);
  EXPECT_EQ(split_of("P00974", o), split_of("P00974", o));  // depends on the accession alone
  SplitOptions other = o;
  other.seed = 1;
  int moved = 0;
  for (int i = 0; i < 2000; ++i) moved += split_of("Q" + std::to_string(i), o) != split_of("Q" + std::to_string(i), other);
  EXPECT_GT(moved, 50);  // another seed, another assignment
}

TEST(Dataset, ReaderAppliesSplitFiltersAndPolicyAndCounts) {
  const std::string path = test::write_plain("ds.fasta", fasta_of(200) + ">tr|Z1|Z1_X junk\nAC-D\n");
  ReadOptions all;
  all.unknown = UnknownPolicy::skip;
  ExampleReader reader(path, all);
  Example e;
  int n = 0;
  while (reader.next(e)) ++n;
  EXPECT_EQ(n, 200);
  EXPECT_EQ(reader.counts().unknown_skipped, 1u);

  uint64_t total = 0;
  std::set<std::string> seen;
  for (Split s : {Split::train, Split::valid, Split::test}) {
    ReadOptions one;
    one.only = s;
    one.filter.taxids = {9606};
    one.unknown = UnknownPolicy::x;
    ExampleReader r(path, one);
    while (r.next(e)) {
      EXPECT_TRUE(seen.insert(e.accession).second) << e.accession << " in two splits";
      EXPECT_EQ(split_of(e.accession, one.split), s);
    }
    total += r.counts().kept;
  }
  EXPECT_EQ(total, 100u);  // the odd records (OX=9606); Z1 has no OX

  ReadOptions strict;
  ExampleReader bad(path, strict);
  try {
    while (bad.next(e)) {
    }
    FAIL() << "no error";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("record 201 (tr|Z1|Z1_X): unexpected character '-' at position 3"),
              std::string::npos) << err.what();
  }
}

TEST(Dataset, FrameCropsLongSequencesToAContiguousPiece) {
  std::mt19937_64 rng(1);
  std::vector<int32_t> residues(5000);
  for (int i = 0; i < 5000; ++i) residues[i] = 5 + i % 20;
  auto framed = frame(residues, 100, rng);
  ASSERT_EQ(framed.size(), 100u);
  EXPECT_EQ(framed.front(), Vocabulary::kCls);
  EXPECT_EQ(framed.back(), Vocabulary::kEos);
  for (size_t i = 2; i + 1 < framed.size(); ++i) EXPECT_EQ((framed[i] - 5), (framed[i - 1] - 5 + 1) % 20);
  EXPECT_EQ(frame({7, 8}, 100, rng), (std::vector<int32_t>{Vocabulary::kCls, 7, 8, Vocabulary::kEos}));
}

TEST(Dataset, WindowsAreFullAndConcatenateSequencesWithSeparators) {
  WindowPacker packer(8);
  packer.add({5, 6, 7});
  packer.add({8, 9, 10, 11, 12, 13});
  std::vector<int32_t> w;
  ASSERT_TRUE(packer.next(w));
  EXPECT_EQ(w, (std::vector<int32_t>{Vocabulary::kCls, 5, 6, 7, Vocabulary::kEos, 8, 9, 10}));
  EXPECT_FALSE(packer.next(w));
  ASSERT_TRUE(packer.flush(w));
  EXPECT_EQ(w, (std::vector<int32_t>{Vocabulary::kCls, 11, 12, 13, Vocabulary::kEos}));
}

TEST(Dataset, MaskingStatistics) {
  std::mt19937_64 rng(3);
  std::vector<std::vector<int32_t>> rows;
  for (int i = 0; i < 400; ++i) {
    std::vector<int32_t> residues(300);
    for (int j = 0; j < 300; ++j) residues[j] = 5 + (i + j) % 20;
    rows.push_back(frame(residues, 1000, rng));
  }
  rows.push_back({Vocabulary::kCls, 7, Vocabulary::kEos});  // a short row still gets a target
  Batch b = make_mlm_batch(rows, MaskingOptions{}, rng);
  const auto selected = b.targets != core::kIgnoreIndex;
  const double residues = 400 * 300 + 1;
  EXPECT_NEAR(selected.sum().item<double>() / residues, 0.15, 0.005);
  const auto masked = (b.tokens == Vocabulary::kMask) & selected;
  const auto kept = (b.tokens == b.targets) & selected;
  const double n = selected.sum().item<double>();
  EXPECT_NEAR(masked.sum().item<double>() / n, 0.8, 0.015);
  EXPECT_NEAR(kept.sum().item<double>() / n, 0.1 + 0.1 / 20, 0.015);  // unchanged, or random that hit itself
  EXPECT_EQ(selected[400].sum().item<int64_t>(), 1);
  // Specials and padding are never targets; padding is marked.
  EXPECT_EQ((selected & (b.tokens == Vocabulary::kCls)).sum().item<int64_t>(), 0);
  EXPECT_EQ(selected.select(1, 0).sum().item<int64_t>(), 0);
  EXPECT_TRUE(b.padding[400].narrow(0, 3, b.padding.size(1) - 3).all().item<bool>());
  EXPECT_EQ(b.target_count, static_cast<int64_t>(n));
  // Another share of residues (train --mask-fraction), with the same 80/10/10 among them.
  MaskingOptions more;
  more.fraction = 0.3;
  Batch c = make_mlm_batch(rows, more, rng);
  const auto chosen = c.targets != core::kIgnoreIndex;
  EXPECT_NEAR(chosen.sum().item<double>() / residues, 0.3, 0.006);
  EXPECT_NEAR(((c.tokens == Vocabulary::kMask) & chosen).sum().item<double>() / chosen.sum().item<double>(), 0.8, 0.012);
}

TEST(Dataset, AutoregressiveBatchShiftsByOne) {
  Batch b = make_ar_batch({{1, 5, 6, 2}, {1, 7, 2}});
  EXPECT_TRUE(b.tokens[0].equal(torch::tensor({1, 5, 6}, torch::kLong)));
  EXPECT_TRUE(b.targets[0].equal(torch::tensor({5, 6, 2}, torch::kLong)));
  EXPECT_TRUE(b.targets[1].equal(torch::tensor({int64_t{7}, int64_t{2}, core::kIgnoreIndex})));
  EXPECT_TRUE(b.padding[1].equal(torch::tensor({false, false, true})));
  EXPECT_EQ(b.target_count, 5);
}

TEST(Dataset, LoaderCoversEveryExampleOnceWithinTheTokenBudgetAndIsDeterministic) {
  const std::string path = test::write_plain("loader.fasta", fasta_of(300));
  LoaderOptions o;
  o.objective = Objective::ar;
  o.max_length = 64;
  o.tokens_per_batch = 512;
  o.pool = 50;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    BatchLoader loader(path, ReadOptions{}, o);
    std::vector<int64_t> firsts;
    int64_t targets = 0;
    Batch b;
    while (loader.next(b)) {
      EXPECT_LE(b.tokens.numel(), 512);
      targets += b.target_count;
      firsts.push_back(b.tokens[0][1].item<int64_t>());
    }
    EXPECT_EQ(loader.counts().kept, 300u);
    return std::make_pair(targets, firsts);
  };
  auto a = run(1), a2 = run(1), c = run(2);
  int64_t expected = 0;  // every residue (cropped to 62) plus <eos> is a target once
  for (int i = 0; i < 300; ++i) expected += std::min(20 + (i * 7) % 50, 62) + 1;
  EXPECT_EQ(a.first, expected);
  EXPECT_EQ(a.second, a2.second);
  EXPECT_NE(a.second, c.second);
}

TEST(Dataset, LoaderRethrowsInputErrorsFromItsThread) {
  const std::string path = test::write_plain("loader-bad.fasta", fasta_of(10) + ">bad\nAC1D#\n");
  BatchLoader loader(path, ReadOptions{}, LoaderOptions{});
  Batch b;
  EXPECT_THROW({ while (loader.next(b)) {} }, InputError);
}

// A consumer that stops early (evaluation with a batch limit) destroys the loader while its thread is
// still reading: the thread must see the stop request safely (ThreadSanitizer checks this test in CI)
// and end without blocking the destructor.
TEST(Dataset, LoaderStoppedEarlyEndsItsThread) {
  const std::string path = test::write_plain("loader-stop.fasta", fasta_of(3000));
  LoaderOptions o;
  o.objective = Objective::mlm;
  o.max_length = 64;
  o.tokens_per_batch = 256;
  o.pool = 64;
  o.prefetch = 1;
  for (int taken = 0; taken < 6; ++taken) {
    BatchLoader loader(path, ReadOptions{}, o);
    Batch b;
    for (int i = 0; i < taken; ++i) ASSERT_TRUE(loader.next(b));
  }  // destroyed with the thread blocked on a full queue, or still reading
}
