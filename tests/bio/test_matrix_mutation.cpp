#include <gtest/gtest.h>

#include <filesystem>

#include "bio/matrix.h"
#include "bio/mutation.h"
#include "core/errors.h"
#include "tests/bio/files.h"

using namespace performer;
using namespace performer::bio;

TEST(Matrix, BuiltinBlosum62HasTheKnownScores) {
  SubstitutionMatrix m = builtin_matrix("blosum62");
  EXPECT_EQ(m.score('A', 'A'), 4);
  EXPECT_EQ(m.score('W', 'W'), 11);
  EXPECT_EQ(m.score('C', 'C'), 9);
  EXPECT_EQ(m.score('D', 'E'), 2);
  EXPECT_EQ(m.score('F', 'Y'), 3);
  EXPECT_EQ(m.score('W', 'G'), -2);
  EXPECT_EQ(m.score('e', 'd'), 2);  // symmetric, either case
  SubstitutionMatrix std20 = m.restricted("ACDEFGHIKLMNPQRSTVWY");
  ASSERT_EQ(std20.size(), 20u);
  EXPECT_EQ(std20.scores[0], 4);                  // A, A
  EXPECT_EQ(std20.scores[2 * 20 + 3], 2);         // D, E
  EXPECT_THROW(m.score('A', 'O'), InputError);
  EXPECT_THROW(builtin_matrix("pam250"), ConfigError);
}

TEST(Matrix, ReadsNcbiFormatFilesAndRejectsBrokenOnes) {
  const std::string text =
      "# a tiny matrix\n"
      "   A  C  D\n"
      "A  4  0 -2\n"
      "C  0  9 -3\n"
      "D -2 -3  6\n";
  SubstitutionMatrix m = read_ncbi_matrix(test::write_plain("tiny.mat", text));
  EXPECT_EQ(m.letters, "ACD");
  EXPECT_EQ(m.score('D', 'C'), -3);
  EXPECT_THROW(read_ncbi_matrix(test::write_plain("short.mat", "  A C\nA 1\nC 0 1\n")), InputError);
  EXPECT_THROW(read_ncbi_matrix(test::write_plain("rows.mat", "  A C\nA 1 0\nD 0 1\n")), InputError);
  EXPECT_THROW(read_ncbi_matrix("/no/such.mat"), InputError);
  // MMseqs2's BLOSUM62 in half bits, when Debian's mmseqs2-examples is installed.
  const std::string mmseqs = "/usr/share/doc/mmseqs2/example-data/blosum62.out";
  if (std::filesystem::exists(mmseqs)) {
    SubstitutionMatrix b = load_matrix(mmseqs);
    EXPECT_NEAR(b.score('A', 'A'), 3.9291, 1e-4);
    EXPECT_GT(b.score('D', 'E'), 1.0);
  }
}

TEST(Mutation, ParsesSingleAndMultiMutants) {
  auto one = parse_mutations("A24C");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].wild_type, 'A');
  EXPECT_EQ(one[0].position, 24);
  EXPECT_EQ(one[0].mutant, 'C');
  auto multi = parse_mutations("a24c:G30D");
  ASSERT_EQ(multi.size(), 2u);
  EXPECT_EQ(to_string(multi[0]), "A24C");
  EXPECT_EQ(to_string(multi[1]), "G30D");
  for (const char* bad : {"", "A24", "24C", "AxC", "J24C", "A24C:A24D", "A-3C"}) {
    EXPECT_THROW(parse_mutations(bad), InputError) << bad;
  }
}

TEST(Mutation, AppliesWithOffsetAndChecksTheWildType) {
  const std::string wt = "MKVLAG";
  EXPECT_EQ(apply_mutations(wt, parse_mutations("K2R:G6W")), "MRVLAW");
  EXPECT_EQ(apply_mutations(wt, parse_mutations("K11R"), 10), "MRVLAG");  // first residue is number 10
  try {
    apply_mutations(wt, parse_mutations("A2C"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has K at position 2, not A"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_mutations(wt, parse_mutations("A7C")), InputError);
}
