#include <gtest/gtest.h>

#include "bio/fasta.h"
#include "bio/header.h"
#include "bio/vocabulary.h"
#include "core/errors.h"
#include "tests/bio/files.h"

using namespace performer;
using namespace performer::bio;

namespace {

const std::string kTwo =
    ">sp|P00974|BPT1_BOVIN Pancreatic trypsin inhibitor OS=Bos taurus OX=9913 PE=1 SV=2\n"
    "MKMSRLCLSVALLVLLGTLAASTPGCDTSNQAKAQRPDFCLEPPYTGPCKARIIRYFYNA\n"
    "KAGLCQTFVYGGCRAKRNNFKSAEDCMRTCGGAIGPWENL\n"
    ">tr|Q9XYZ1|Q9XYZ1_HUMAN Some protein\n"
    "acdefghik\n";

std::vector<SequenceRecord> read_all(const std::string& path) {
  FastaReader reader(path);
  std::vector<SequenceRecord> out;
  SequenceRecord r;
  while (reader.next(r)) out.push_back(r);
  return out;
}

std::string error_of(const std::string& path) {
  try {
    read_all(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Fasta, PlainGzipAndBzip2GiveTheSameRecords) {
  auto plain = read_all(test::write_plain("two.fasta", kTwo));
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].header.substr(0, 20), "sp|P00974|BPT1_BOVIN");
  EXPECT_EQ(plain[0].sequence.size(), 100u);
  EXPECT_EQ(plain[1].sequence, "acdefghik");
  EXPECT_EQ(plain[1].index, 2u);
  for (const auto& path : {test::write_gzip("two.fasta.gz", kTwo), test::write_bzip2("two.fa.bz2", kTwo),
                           test::write_gzip("gzip-without-suffix", kTwo)}) {
    auto other = read_all(path);
    ASSERT_EQ(other.size(), 2u) << path;
    EXPECT_EQ(other[0].sequence, plain[0].sequence);
    EXPECT_EQ(other[1].header, plain[1].header);
  }
  EXPECT_EQ(FastaReader(test::write_bzip2("c.bz2", kTwo)).compression(), Compression::bzip2);
}

TEST(Fasta, ConcatenatedGzipMembersAreOneStream) {
  const std::string a = test::read_bytes(test::write_gzip("a.gz", ">a\nAC\n"));
  const std::string b = test::read_bytes(test::write_gzip("b.gz", ">b\nDE\n"));
  auto records = read_all(test::write_plain("ab.gz", a + b));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].sequence, "DE");
}

TEST(Fasta, CrlfLineEndingsReadLikeLf) {
  std::string crlf;
  for (char c : kTwo) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto a = read_all(test::write_plain("lf.fasta", kTwo));
  auto b = read_all(test::write_plain("crlf.fasta", crlf));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].header, b[0].header);
  EXPECT_EQ(a[0].sequence, b[0].sequence);
}

TEST(Fasta, EmptySequencesAreSkippedAndCounted) {
  FastaReader reader(test::write_plain("empty-seq.fasta", ">a\n>b\nMK\n>c\n\n>d\nAC\n"));
  SequenceRecord r;
  std::vector<std::string> seen;
  while (reader.next(r)) seen.push_back(r.header);
  EXPECT_EQ(seen, (std::vector<std::string>{"b", "d"}));
  EXPECT_EQ(reader.empty_skipped(), 2u);
}

TEST(Fasta, DigitsAndSpacesInsideSequencesAreIgnoredAndTrailingStopIsDropped) {
  // GenBank-style numbered lines: the FASTA convention (and seqan3) drops whitespace and digits.
  auto r = read_all(test::write_plain("digits.fasta", ">x\n1 MKV LA\n61 GGW*\n"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].sequence, "MKVLAGGW");
}

TEST(Fasta, BadFilesGiveOneClearError) {
  EXPECT_NE(error_of(test::write_plain("empty.fasta", "")).find("holds no FASTA records"), std::string::npos);
  EXPECT_NE(error_of(test::write_plain("noheader.fasta", "MKVLA\nGGW\n")).find("not FASTA"), std::string::npos);
  std::string junk;
  for (int i = 0; i < 3000; ++i) junk += static_cast<char>((i * 7919) % 256);
  EXPECT_NE(error_of(test::write_plain("junk.bin", junk)), "");
  EXPECT_NE(error_of(test::temp_path("").string()).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of("/no/such/file.fasta").find("cannot open '/no/such/file.fasta'"), std::string::npos);
}

TEST(Fasta, TruncatedAndCorruptCompressedFilesAreErrorsNotShortFiles) {
  std::string big;
  for (int i = 0; i < 3000; ++i) big += ">s" + std::to_string(i) + "\nMKVLAAGGWWPPRRSTVYACDEFGHIKLMNPQRSTVWY\n";
  const std::string gz = test::read_bytes(test::write_gzip("big.gz", big));
  const std::string cut = test::write_plain("cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of(cut).find("truncated"), std::string::npos) << error_of(cut);
  std::string broken = gz;
  for (size_t i = gz.size() / 3; i < gz.size() / 3 + 64; ++i) broken[i] = static_cast<char>(broken[i] ^ 0x5A);
  EXPECT_NE(error_of(test::write_plain("corrupt.gz", broken)).find("corrupt gzip"), std::string::npos);
  const std::string bz = test::read_bytes(test::write_bzip2("big.bz2", big));
  EXPECT_NE(error_of(test::write_plain("cut.bz2", bz.substr(0, bz.size() / 2))).find("truncated"), std::string::npos);
}

TEST(Vocabulary, IdsCaseAndPolicies) {
  EXPECT_EQ(Vocabulary::kSize, 30);
  EXPECT_EQ(Vocabulary::residue_id('A'), 5);
  EXPECT_EQ(Vocabulary::residue_id('a'), 5);
  EXPECT_EQ(Vocabulary::residue_id('Y'), 24);
  EXPECT_EQ(Vocabulary::residue_id('X'), 25);
  EXPECT_EQ(Vocabulary::residue_id('O'), 29);
  EXPECT_EQ(Vocabulary::residue_id('-'), -1);
  EXPECT_EQ(Vocabulary::token_name(Vocabulary::kMask), "<mask>");
  std::vector<int32_t> out;
  EXPECT_TRUE(Vocabulary::encode("mkA", UnknownPolicy::error, out));
  EXPECT_EQ(out, (std::vector<int32_t>{Vocabulary::residue_id('M'), Vocabulary::residue_id('K'), 5}));
  out.clear();
  EXPECT_TRUE(Vocabulary::encode("A-C", UnknownPolicy::x, out));
  EXPECT_EQ(out[1], Vocabulary::residue_id('X'));
  out.clear();
  EXPECT_FALSE(Vocabulary::encode("A-C", UnknownPolicy::skip, out));
  EXPECT_TRUE(out.empty());
  try {
    Vocabulary::encode("AC*D", UnknownPolicy::error, out, "f.fa: record 3 (x)");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("f.fa: record 3 (x): unexpected character '*' at position 3", 0), 0u)
        << e.what();
  }
  EXPECT_THROW(parse_unknown_policy("ignore"), ConfigError);
}

TEST(Header, UniProtKbUniRefOlderAndPlain) {
  Header h = parse_header(">sp|P00974|BPT1_BOVIN Pancreatic trypsin inhibitor OS=Bos taurus OX=9913 GN=BPTI PE=1 SV=2");
  EXPECT_EQ(h.kind, HeaderKind::uniprotkb);
  EXPECT_TRUE(h.is_swissprot());
  EXPECT_EQ(h.accession, "P00974");
  EXPECT_EQ(h.entry_name, "BPT1_BOVIN");
  EXPECT_EQ(h.name, "Pancreatic trypsin inhibitor");
  EXPECT_EQ(h.organism, "Bos taurus");
  EXPECT_EQ(h.taxid, 9913);
  EXPECT_EQ(h.gene, "BPTI");
  EXPECT_EQ(h.protein_existence, 1);
  EXPECT_EQ(h.sequence_version, 2);

  Header old = parse_header("tr|Q8N0Y7|Q8N0Y7_HUMAN Probable protein (Fragment) OS=Homo sapiens GN=X PE=2 SV=1\r");
  EXPECT_EQ(old.database, "tr");
  EXPECT_FALSE(old.is_swissprot());
  EXPECT_EQ(old.taxid, -1);
  EXPECT_EQ(old.name, "Probable protein (Fragment)");
  EXPECT_EQ(old.sequence_version, 1);

  Header ur = parse_header(">UniRef50_P00974 Pancreatic trypsin inhibitor n=12 Tax=Bos taurus TaxID=9913 RepID=BPT1_BOVIN");
  EXPECT_EQ(ur.kind, HeaderKind::uniref);
  EXPECT_EQ(ur.database, "UniRef50");
  EXPECT_EQ(ur.accession, "P00974");
  EXPECT_EQ(ur.members, 12);
  EXPECT_EQ(ur.organism, "Bos taurus");
  EXPECT_EQ(ur.taxid, 9913);
  EXPECT_EQ(ur.representative, "BPT1_BOVIN");

  Header plain = parse_header(">my_protein some free text with = signs");
  EXPECT_EQ(plain.kind, HeaderKind::plain);
  EXPECT_EQ(plain.accession, "my_protein");
  EXPECT_EQ(plain.description, "some free text with = signs");
}

TEST(Fasta, BundledSampleStartsWithBpt1AndParsesCleanly) {
  const std::string path = std::string(PERFORMER_SOURCE_DIR) + "/datasets/uniprot_sample.fasta";
  FastaReader reader(path);
  SequenceRecord r;
  ASSERT_TRUE(reader.next(r));
  Header first = parse_header(r.header);
  EXPECT_EQ(first.accession, "P00974");
  EXPECT_EQ(first.entry_name, "BPT1_BOVIN");
  EXPECT_EQ(r.sequence.size(), 100u);
  EXPECT_EQ(r.sequence.substr(35, 58), "RPDFCLEPPYTGPCKARIIRYFYNAKAGLCQTFVYGGCRAKRNNFKSAEDCMRTCGGA");  // aprotinin
  std::vector<int32_t> tokens;
  uint64_t residues = 0;
  do {
    tokens.clear();
    ASSERT_TRUE(Vocabulary::encode(r.sequence, UnknownPolicy::error, tokens, reader.where(r)));
    residues += tokens.size();
  } while (reader.next(r));
  EXPECT_GT(reader.records(), 1500u);
  EXPECT_EQ(reader.empty_skipped(), 0u);
  EXPECT_GT(residues, 300000u);
}
