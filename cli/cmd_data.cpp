// performer data: look at, validate and split sequence files before training on them.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <unordered_set>

#include "bio/dataset.h"
#include "bio/fasta.h"
#include "bio/header.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "io/file.h"
#include "io/table.h"
#include "core/errors.h"

namespace performer::cli {
namespace {

struct DataArgs {
  std::string file;
  std::string out_dir;
  bio::SplitOptions split;
  int64_t max_length = 0;
  bool json = false;
};

// Length histogram edges (residues): the ranges protein people think in.
const int64_t kEdges[] = {0, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000};

std::string header_kind_name(const bio::Header& h) {
  if (h.kind == bio::HeaderKind::uniprotkb) return h.database == "sp" ? "uniprotkb/swiss-prot" : "uniprotkb/trembl";
  if (h.kind == bio::HeaderKind::uniref) return "uniref (" + h.database + ")";
  return "plain";
}

void run_stats(const DataArgs& args) {
  bio::FastaReader reader(args.file);
  bio::SequenceRecord record;
  uint64_t residues = 0, min_len = UINT64_MAX, max_len = 0;
  std::vector<uint64_t> histogram(std::size(kEdges), 0);
  std::map<char, uint64_t> composition, unknown;
  std::map<std::string, uint64_t> kinds;
  uint64_t records_with_unknown = 0;
  Progress progress("read", "records");
  while (reader.next(record)) {
    progress.update(static_cast<double>(reader.records()));
    const uint64_t n = record.sequence.size();
    residues += n;
    min_len = std::min(min_len, n);
    max_len = std::max(max_len, n);
    size_t bin = 0;
    while (bin + 1 < std::size(kEdges) && static_cast<int64_t>(n) >= kEdges[bin + 1]) ++bin;
    ++histogram[bin];
    bool has_unknown = false;
    for (char c : record.sequence) {
      if (bio::Vocabulary::residue_id(c) >= 0) ++composition[static_cast<char>(std::toupper(static_cast<unsigned char>(c)))];
      else {
        ++unknown[c];
        has_unknown = true;
      }
    }
    records_with_unknown += has_unknown;
    ++kinds[header_kind_name(bio::parse_header(record.header))];
  }
  const uint64_t count = reader.records();
  std::printf("file               %s (%s)\n", args.file.c_str(), bio::to_string(reader.compression()).c_str());
  std::printf("records            %llu\n", static_cast<unsigned long long>(count));
  std::printf("empty (skipped)    %llu\n", static_cast<unsigned long long>(reader.empty_skipped()));
  std::printf("residues           %llu\n", static_cast<unsigned long long>(residues));
  std::printf("length min/mean/max %llu / %.1f / %llu\n", static_cast<unsigned long long>(min_len),
              static_cast<double>(residues) / count, static_cast<unsigned long long>(max_len));
  io::Table hist;
  hist.header = {"length", "records", "share"};
  for (size_t i = 0; i < histogram.size(); ++i) {
    const std::string range = i + 1 < std::size(kEdges)
                                  ? std::to_string(kEdges[i]) + "-" + std::to_string(kEdges[i + 1] - 1)
                                  : ">=" + std::to_string(kEdges[i]);
    hist.rows.push_back({range, std::to_string(histogram[i]), io::format_number(100.0 * histogram[i] / count, 1) + "%"});
  }
  std::cout << "\n" << hist.text();
  io::Table comp;
  comp.header = {"residue", "count", "share"};
  for (char c : bio::Vocabulary::kResidues) {
    const uint64_t k = composition.count(c) ? composition[c] : 0;
    comp.rows.push_back({std::string(1, c), std::to_string(k), io::format_number(100.0 * k / residues, 2) + "%"});
  }
  std::cout << "\n" << comp.text();
  std::cout << "\nunknown characters: "
            << (unknown.empty() ? std::string("none") : std::to_string(records_with_unknown) + " records");
  for (auto [c, k] : unknown) std::cout << "  " << bio::printable_char(c) << " x" << k;
  std::cout << "\n\n";
  io::Table kind_table;
  kind_table.header = {"header kind", "records"};
  for (auto& [k, n] : kinds) kind_table.rows.push_back({k, std::to_string(n)});
  std::cout << kind_table.text();
}

void run_check(const DataArgs& args) {
  bio::FastaReader reader(args.file);
  bio::SequenceRecord record;
  uint64_t problems = 0;
  std::string first;
  std::unordered_set<uint64_t> seen;  // hashes of ids: 8 bytes a record, not the ids themselves
  auto problem = [&](const std::string& what) {
    if (problems++ == 0) first = what;
  };
  std::vector<int32_t> tokens;
  while (reader.next(record)) {
    tokens.clear();
    try {
      bio::Vocabulary::encode(record.sequence, bio::UnknownPolicy::error, tokens, reader.where(record));
    } catch (const InputError& e) {
      problem(e.what());
    }
    const auto header = bio::parse_header(record.header);
    if (!seen.insert(std::hash<std::string>{}(header.accession)).second) {
      problem(reader.where(record) + ": duplicate accession " + header.accession);
    }
    if (args.max_length > 0 && static_cast<int64_t>(record.sequence.size()) > args.max_length) {
      problem(reader.where(record) + ": " + std::to_string(record.sequence.size()) +
              " residues, longer than --max-length " + std::to_string(args.max_length));
    }
  }
  for (uint64_t i = 0; i < reader.empty_skipped(); ++i) problem(args.file + ": a record has an empty sequence");
  if (problems > 0) {
    throw InputError(first + " (" + std::to_string(problems) + " problem" + (problems > 1 ? "s" : "") +
                     " in " + std::to_string(reader.records() + reader.empty_skipped()) + " records)");
  }
  std::cout << args.file << ": ok, " << reader.records() << " records\n";
}

void run_split(const DataArgs& args) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  if (ec || !fs::is_directory(args.out_dir)) throw InputError("cannot create output folder '" + args.out_dir + "'");
  const bio::Split splits[] = {bio::Split::train, bio::Split::valid, bio::Split::test};
  std::map<bio::Split, std::unique_ptr<io::AtomicFile>> files;
  std::map<bio::Split, uint64_t> counts;
  const auto path_of = [&](bio::Split s) { return (fs::path(args.out_dir) / (bio::to_string(s) + ".fasta")).string(); };
  for (auto s : splits) files[s] = std::make_unique<io::AtomicFile>(path_of(s));
  bio::FastaReader reader(args.file);
  bio::SequenceRecord record;
  while (reader.next(record)) {
    const auto s = bio::split_of(bio::parse_header(record.header).accession, args.split);
    std::ostream& out = files[s]->stream();
    out << '>' << record.header << '\n';
    for (size_t i = 0; i < record.sequence.size(); i += 60) out << record.sequence.substr(i, 60) << '\n';
    ++counts[s];
  }
  for (auto s : splits) files[s]->commit();  // only when everything was read: no half-written splits
  for (auto s : splits) std::cout << bio::to_string(s) << "\t" << counts[s] << "\t" << path_of(s) << "\n";
}

}  // namespace

void setup_data(CLI::App& sub, const GlobalOptions& global) {
  sub.require_subcommand(1);
  auto args = std::make_shared<DataArgs>();
  auto* stats = sub.add_subcommand("stats", "records, residues, length histogram, composition, unknown characters, header kinds");
  stats->add_option("file", args->file, "FASTA file (plain, gzip, bzip2) or - for stdin")->required();
  stats->callback([args] { run_stats(*args); });

  auto* check = sub.add_subcommand("check", "validate a file: exits 1 with the first problem and a count of all");
  check->add_option("file", args->file, "FASTA file (plain, gzip, bzip2) or - for stdin")->required();
  check->add_option("--max-length", args->max_length, "also report sequences longer than this (0: no limit)")
      ->capture_default_str();
  check->callback([args] { run_check(*args); });

  auto* split = sub.add_subcommand("split", "write train/valid/test FASTA files, split by a hash of the accession");
  split->add_option("file", args->file, "FASTA file (plain, gzip, bzip2) or - for stdin")->required();
  split->add_option("--out", args->out_dir, "output folder")->required();
  split->add_option("--valid", args->split.valid_fraction, "share of accessions for validation")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  split->add_option("--test", args->split.test_fraction, "share of accessions for test")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  split->add_option("--split-seed", args->split.seed, "seed of the assignment")->capture_default_str();
  split->callback([args] {
    if (args->split.valid_fraction + args->split.test_fraction > 1.0) {
      throw ConfigError("--valid plus --test must not exceed 1");
    }
    run_split(*args);
  });
  (void)global;
}

}  // namespace performer::cli
