// The I/O layer: atomic files and folders, standard output, JSON, delimited tables.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/model.h"
#include "io/checksum.h"
#include "io/file.h"
#include "io/mapped_file.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/table.h"

namespace performer::io {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("performer-io-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, AppearsWholeOnCommitAndLeavesNoTemporary) {
  const fs::path dir = fresh_dir("commit");
  const std::string path = (dir / "out.txt").string();
  {
    AtomicFile file(path);
    EXPECT_NE(file.temp_path(), path);
    EXPECT_EQ(fs::path(file.temp_path()).parent_path(), dir);  // same folder: the rename is atomic
    file.stream() << "hello\n";
    EXPECT_FALSE(fs::exists(path));  // not before commit
    file.commit();
  }
  EXPECT_EQ(slurp(path), "hello\n");
  EXPECT_EQ(entries(dir), 1);
}

TEST(AtomicFile, WithoutCommitThePreviousFileStaysAndTheTemporaryGoes) {
  const fs::path dir = fresh_dir("abandon");
  const std::string path = (dir / "out.txt").string();
  write_file(path, "old");
  {
    AtomicFile file(path);
    file.stream() << "half of the new";
  }  // an exception or an early return
  EXPECT_EQ(slurp(path), "old");
  EXPECT_EQ(entries(dir), 1);
}

TEST(AtomicFile, TwoWritersOfOnePathUseTheirOwnTemporaries) {
  const fs::path dir = fresh_dir("two");
  const std::string path = (dir / "out.txt").string();
  AtomicFile a(path), b(path);
  EXPECT_NE(a.temp_path(), b.temp_path());
  a.stream() << "a";
  b.stream() << "b";
  a.commit();
  b.commit();
  EXPECT_EQ(slurp(path), "b");
  EXPECT_EQ(entries(dir), 1);
}

TEST(AtomicFile, ErrorsNameTheFileAndTheOperatingSystemsReason) {
  try {
    AtomicFile file("/no/such/folder/out.txt");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '/no/such/folder/out.txt': No such file or directory");
  }
}

TEST(AtomicFile, AWriteBeyondTheFileSizeLimitIsAnErrorAndLeavesNothing) {
  // What a full disk does, reproduced with a file-size limit (EFBIG instead of ENOSPC).
  const fs::path dir = fresh_dir("limit");
  const std::string path = (dir / "big.bin").string();
  write_file(path, "previous");
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    AtomicFile file(path);
    file.stream() << std::string(1 << 20, 'x');
    file.commit();
  } catch (const InputError& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_EQ(message, "cannot write '" + path + "': File too large");
  EXPECT_EQ(slurp(path), "previous");
  EXPECT_EQ(entries(dir), 1);
}

TEST(AtomicFolder, ReplacesThePreviousFolderOnlyOnCommit) {
  const fs::path dir = fresh_dir("folder");
  const std::string out = (dir / "run").string();
  {
    AtomicFolder first(out);
    write_file(first.file("a.txt"), "1");
    first.commit();
  }
  {
    AtomicFolder failed(out);
    write_file(failed.file("b.txt"), "2");
  }  // not committed: the first run's folder is untouched
  EXPECT_EQ(slurp(fs::path(out) / "a.txt"), "1");
  EXPECT_FALSE(fs::exists(fs::path(out) / "b.txt"));
  EXPECT_EQ(entries(dir), 1);
  {
    AtomicFolder second(out);
    write_file(second.file("b.txt"), "2");
    second.commit();
  }
  EXPECT_FALSE(fs::exists(fs::path(out) / "a.txt"));  // replaced, not mixed
  EXPECT_EQ(slurp(fs::path(out) / "b.txt"), "2");
  EXPECT_EQ(entries(dir), 1);
}

TEST(Json, EscapesStringsWritesNonFiniteAsNullAndParsesStrictly) {
  Json j = {{"path", "a \"quoted\"\\path\n"}, {"loss", rounded(std::numeric_limits<double>::quiet_NaN())},
            {"x", rounded(1.0 / 3.0, 4)}};
  const std::string line = to_line(j);
  EXPECT_EQ(line, R"({"path":"a \"quoted\"\\path\n","loss":null,"x":0.3333})");
  EXPECT_EQ(parse_json(line, "test")["path"], "a \"quoted\"\\path\n");
  EXPECT_THROW(parse_json(line + " trailing", "test"), InputError);
  EXPECT_THROW(parse_json("{\"a\": 1", "test"), InputError);
  // Found by fuzz_io: a number too large for a double is nlohmann's out_of_range, not a parse_error.
  EXPECT_THROW(parse_json("[55555555555555e5555555555552]", "test"), InputError);
  EXPECT_EQ(to_line(Json{{"bad", std::string("\xff")}}), "{\"bad\":\"\xEF\xBF\xBD\"}");  // invalid UTF-8 replaced
}

TEST(Json, ModelConfigRoundTripsAndReadsOlderCheckpoints) {
  core::ModelConfig c = core::preset_config("tiny");
  c.objective = core::Objective::ar;
  c.precision = core::Precision::bf16;
  c.dropout = 0.125;
  c.seed = 12345678901ull;
  const std::string text = c.to_json();
  const Json json = parse_json(text, "config");
  EXPECT_EQ(json["objective"], "ar");
  EXPECT_EQ(json["layers"], 2);
  EXPECT_EQ(core::ModelConfig::from_json(text).to_json(), text);
  // Older checkpoints wrote every number as a double and had fewer fields.
  const core::ModelConfig old = core::ModelConfig::from_json(R"({"layers": 3.0, "d_model": 64.0, "heads": 4.0})");
  EXPECT_EQ(old.layers, 3);
  EXPECT_EQ(old.activation, core::Activation::gelu);
  EXPECT_THROW(core::ModelConfig::from_json(R"({"layers": 2.5})"), ConfigError);
  EXPECT_THROW(core::ModelConfig::from_json(R"({"objective": 1})"), ConfigError);
  EXPECT_THROW(core::ModelConfig::from_json(R"({"layers": 2} x)"), ConfigError);
}

TEST(Table, QuotesBothWaysAndKeepsALiteralDash) {
  Table t;
  t.header = {"id", "note", "value"};
  t.rows = {{"a,b", "say \"hi\"", "1.5"}, {"tab\there", "-", ""}};
  EXPECT_EQ(t.csv(), "id,note,value\n\"a,b\",\"say \"\"hi\"\"\",1.5\ntab\there,-,\n");
  EXPECT_EQ(t.tsv(), "id\tnote\tvalue\na,b\t\"say \"\"hi\"\"\"\t1.5\n\"tab\there\"\t-\t\n");
  for (char separator : {',', '\t'}) {
    std::istringstream lines(separator == ',' ? t.csv() : t.tsv());
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(split_delimited(line, separator), t.header);
    for (const auto& row : t.rows) {
      std::getline(lines, line);
      EXPECT_EQ(split_delimited(line + "\r", separator), row);  // a CRLF file reads the same
    }
  }
  const std::string text = t.text();
  EXPECT_NE(text.find("-      -"), std::string::npos) << text;  // the literal "-" and the missing value
  EXPECT_EQ(format_number(std::numeric_limits<double>::quiet_NaN(), 2), "");
  EXPECT_EQ(format_number(2.0 / 3.0, 2), "0.67");
}

}  // namespace
}  // namespace performer::io

namespace performer::io {
namespace {

// A .npy header may claim any shape: the reader checks it against the bytes the file holds before it
// allocates anything (found while fuzzing the reader: a shape of 10^18 elements asked for exabytes).
TEST(Npy, AShapeLargerThanTheFileIsAnErrorNotAnAllocation) {
  const fs::path dir = fresh_dir("npy");
  const std::string good = (dir / "good.npy").string();
  const float values[6] = {0, 1, 2, 3, 4, 5};
  write_npy(good, "<f4", {2, 3}, values, sizeof values);
  const NpyArray back = read_npy(good);
  EXPECT_EQ(back.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.data.size(), sizeof values);
  std::string bytes = slurp(good);
  const size_t shape = bytes.find("(2, 3)");
  ASSERT_NE(shape, std::string::npos);
  for (const char* claim : {"(9, 3)", "(1000000000, 1000000000)", "(99999999999999999999999)"}) {
    std::string forged = bytes;
    forged.replace(shape, 6, std::string(claim));
    const std::string path = (dir / "forged.npy").string();
    std::ofstream(path, std::ios::binary) << forged;
    EXPECT_THROW(read_npy(path), InputError) << claim;
  }
}

}  // namespace
}  // namespace performer::io

namespace performer {

TEST(Checksum, Crc32cMatchesTheStandardCheckValuesInPiecesAndWithoutTheInstruction) {
  // The CRC-32C check value (RFC 3720, and every CRC catalogue): "123456789" -> e3069283.
  const std::string digits = "123456789";
  EXPECT_EQ(io::crc32c(0, digits.data(), digits.size()), 0xE3069283u);
  EXPECT_EQ(io::crc32c_portable(0, digits.data(), digits.size()), 0xE3069283u);
  EXPECT_EQ(io::crc_hex(0xE3069283u), "e3069283");
  // 32 bytes of zeros (RFC 3720, B.4): 8a9136aa.
  const std::string zeros(32, '\0');
  EXPECT_EQ(io::crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
  // Any split into pieces gives the checksum of the whole; the two implementations agree.
  std::string text;
  for (int i = 0; i < 5000; ++i) text += static_cast<char>((i * 131 + i / 7) & 0xFF);
  const uint32_t whole = io::crc32c(0, text.data(), text.size());
  EXPECT_EQ(io::crc32c_portable(0, text.data(), text.size()), whole);
  for (size_t cut : {size_t{1}, size_t{7}, size_t{8}, size_t{999}, size_t{4999}}) {
    const uint32_t first = io::crc32c(0, text.data(), cut);
    EXPECT_EQ(io::crc32c(first, text.data() + cut, text.size() - cut), whole) << cut;
    EXPECT_EQ(io::crc32c_portable(io::crc32c_portable(0, text.data(), cut), text.data() + cut, text.size() - cut), whole);
  }
}

TEST(MappedFile, MapsAFileReadOnlyAndNamesWhatItCannotMap) {
  const auto dir = std::filesystem::temp_directory_path() / "performer-io-mapped";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bytes.bin").string();
  std::ofstream(path, std::ios::binary) << "mapped bytes";
  io::MappedFile file(path);
  EXPECT_EQ(file.view(), "mapped bytes");
  io::MappedFile moved = std::move(file);
  EXPECT_EQ(moved.size(), 12u);
  EXPECT_EQ(file.size(), 0u);
  std::ofstream((dir / "empty.bin").string(), std::ios::binary);
  EXPECT_EQ(io::MappedFile((dir / "empty.bin").string()).size(), 0u);
  try {
    io::MappedFile missing((dir / "missing.bin").string());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos);
  }
  EXPECT_THROW(io::MappedFile(dir.string()), InputError);  // a folder
}

}  // namespace performer
