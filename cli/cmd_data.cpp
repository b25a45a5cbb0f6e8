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
#include "bio/prepared.h"
#include "cli/commands.h"
#include "cli/options.h"
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

struct PrepareArgs {
  bio::PrepareOptions options;
  std::string shard_size = "1G";
};

// "1G", "512M", "64k", "1000000" -> bytes.
uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  std::string unit = text.substr(std::min(used, text.size()));
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  double scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "k" || unit == "K") scale = 1024.0;
  else if (unit == "M" || unit == "m") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") scale = 1024.0 * 1024 * 1024;
  if (!(value >= 1) || scale == 0 || value * scale > 1e18) {
    throw ConfigError("--shard-size: expected e.g. 1G, 256M or a number of bytes, got '" + text + "'");
  }
  return static_cast<uint64_t>(value * scale);
}

std::string mebibytes(uint64_t bytes) { return io::format_number(static_cast<double>(bytes) / (1 << 20), 1) + " MiB"; }

std::string header_kind_name(const bio::Header& h) {
  if (h.kind == bio::HeaderKind::uniprotkb) return h.database == "sp" ? "uniprotkb/swiss-prot" : "uniprotkb/trembl";
  if (h.kind == bio::HeaderKind::uniref) return "uniref (" + h.database + ")";
  return "plain";
}

io::Table histogram_table(const std::vector<uint64_t>& histogram, const std::string& what) {
  uint64_t count = 0;
  for (uint64_t n : histogram) count += n;
  io::Table table;
  table.header = {"length", what, "share"};
  for (size_t i = 0; i < histogram.size(); ++i) {
    table.rows.push_back({bio::length_range(i), std::to_string(histogram[i]),
                          io::format_number(count ? 100.0 * histogram[i] / count : 0.0, 1) + "%"});
  }
  return table;
}

// data stats on a prepared folder: from its manifest (no pass over the shards).
void run_prepared_stats(const std::string& dir) {
  bio::PreparedData data(dir);
  const io::Json& m = data.manifest();
  const io::Json& counts = m.at("counts");
  std::printf("folder             %s (prepared, %s)\n", dir.c_str(), data.vocabulary().c_str());
  for (const auto& input : m.at("inputs")) {
    std::printf("input              %s (%s, %s, crc32c %s)\n", input.at("path").get<std::string>().c_str(),
                input.at("compression").get<std::string>().c_str(), mebibytes(input.at("bytes").get<uint64_t>()).c_str(),
                input.at("crc32c").get<std::string>().c_str());
  }
  std::printf("records read       %llu (kept %llu, filtered %llu, unknown skipped %llu, empty %llu)\n",
              static_cast<unsigned long long>(counts.at("records").get<uint64_t>()),
              static_cast<unsigned long long>(counts.at("kept").get<uint64_t>()),
              static_cast<unsigned long long>(counts.at("filtered").get<uint64_t>()),
              static_cast<unsigned long long>(counts.at("unknown_skipped").get<uint64_t>()),
              static_cast<unsigned long long>(counts.at("empty_skipped").get<uint64_t>()));
  io::Table splits;
  splits.header = {"split", "sequences", "residues", "mean length", "shards", "bytes on disk"};
  std::vector<uint64_t> histogram(bio::length_edges().size(), 0);
  for (bio::Split s : {bio::Split::train, bio::Split::valid, bio::Split::test}) {
    const io::Json& split = m.at("splits").at(bio::to_string(s));
    uint64_t disk = 0;
    for (const auto& shard : split.at("shards")) {
      disk += shard.at("residues").get<uint64_t>() + shard.at("id_bytes").get<uint64_t>() +
              bio::kIndexHeader + bio::kIndexEntry * shard.at("sequences").get<uint64_t>();
    }
    const auto h = split.at("length_histogram").get<std::vector<uint64_t>>();
    for (size_t i = 0; i < histogram.size() && i < h.size(); ++i) histogram[i] += h[i];
    const uint64_t n = data.sequences(s);
    splits.rows.push_back({bio::to_string(s), std::to_string(n), std::to_string(data.residues(s)),
                           io::format_number(n ? static_cast<double>(data.residues(s)) / n : 0.0, 1),
                           std::to_string(split.at("shards").size()), mebibytes(disk)});
  }
  std::cout << "\n" << splits.text() << "\n" << histogram_table(histogram, "sequences").text();
}

void run_stats(const DataArgs& args) {
  if (bio::is_prepared(args.file)) {
    try {
      run_prepared_stats(args.file);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(args.file + "/" + std::string(bio::kManifest) + ": malformed manifest (" + e.what() + ")");
    }
    return;
  }
  bio::FastaReader reader(args.file);
  bio::SequenceRecord record;
  uint64_t residues = 0, min_len = UINT64_MAX, max_len = 0;
  std::vector<uint64_t> histogram(bio::length_edges().size(), 0);
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
    ++histogram[bio::length_bin(n)];
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
  std::cout << "\n" << histogram_table(histogram, "records").text();
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

void run_prepared_check(const std::string& dir) {
  bio::PreparedData data(dir);
  Progress progress("verify", "MB");
  uint64_t total = 0;
  data.verify([&](uint64_t done, uint64_t all) {
    total = all;
    progress.update(static_cast<double>(done) / 1e6, "", all ? static_cast<double>(done) / all : -1);
  });
  progress.clear();
  uint64_t sequences = 0, shards = 0;
  for (bio::Split s : {bio::Split::train, bio::Split::valid, bio::Split::test}) {
    sequences += data.sequences(s);
    shards += data.manifest().at("splits").at(bio::to_string(s)).at("shards").size();
  }
  std::cout << dir << ": ok, " << sequences << " sequences in " << shards << " shards (" << mebibytes(total)
            << " checked against the manifest's CRC-32C)\n";
}

void run_check(const DataArgs& args) {
  if (bio::is_prepared(args.file)) {
    run_prepared_check(args.file);
    return;
  }
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

void run_prepare(PrepareArgs& args) {
  args.options.shard_bytes = parse_size(args.shard_size);
  for (const auto& input : args.options.inputs) refuse_overwriting("--out", args.options.out, {input});
  std::unique_ptr<Progress> progress;
  bio::PrepareReport report = bio::prepare(args.options, [&](const bio::PrepareProgress& p) {
    if (!progress) progress = std::make_unique<Progress>("prepare", "MB", static_cast<double>(p.total_bytes) / 1e6);
    progress->update(static_cast<double>(p.input_bytes) / 1e6, std::to_string(p.sequences) + " sequences");
  });
  if (progress) progress->clear();
  for (const auto& stale : report.removed_stale) {
    std::cerr << "note: removed " << stale << ", left by a prepare that was killed\n";
  }
  io::Table table;
  table.header = {"split", "sequences"};
  for (bio::Split s : {bio::Split::train, bio::Split::valid, bio::Split::test}) {
    table.rows.push_back({bio::to_string(s), std::to_string(report.sequences[static_cast<size_t>(s)])});
  }
  std::cout << table.text();
  std::printf("%s: %llu records read, %llu kept (%llu residues), %llu filtered, %llu skipped for unknown residues; "
              "%llu shards; %.1f s, %.1f MB/s of input (%.1f MB/s of FASTA text)\n",
              args.options.out.c_str(), static_cast<unsigned long long>(report.records),
              static_cast<unsigned long long>(report.kept), static_cast<unsigned long long>(report.residues),
              static_cast<unsigned long long>(report.filtered), static_cast<unsigned long long>(report.unknown_skipped),
              static_cast<unsigned long long>(report.shards), report.seconds,
              report.input_bytes / 1e6 / std::max(report.seconds, 1e-9),
              report.text_bytes / 1e6 / std::max(report.seconds, 1e-9));
}

}  // namespace

void setup_data(CLI::App& sub, const GlobalOptions& global) {
  sub.require_subcommand(1);
  auto args = std::make_shared<DataArgs>();
  auto* stats = sub.add_subcommand("stats", "records, residues, length histogram, composition, unknown characters, header kinds");
  stats->add_option("file", args->file, "FASTA file (plain, gzip, bzip2), - for stdin, or a prepared folder")->required();
  stats->callback([args] { run_stats(*args); });

  auto* check = sub.add_subcommand("check", "validate a file or a prepared folder: exits 1 with the first problem");
  check->add_option("file", args->file, "FASTA file (plain, gzip, bzip2), - for stdin, or a prepared folder (every "
                                        "shard checked against the manifest)")->required();
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

  auto prep = std::make_shared<PrepareArgs>();
  prep->options.unknown = bio::UnknownPolicy::x;  // as `train` reads FASTA
  auto* prepare = sub.add_subcommand(
      "prepare", "tokenize FASTA once into memory-mapped shards for `train --data DIR` (UniRef/TrEMBL scale)");
  prepare->add_option("inputs", prep->options.inputs, "FASTA files (plain, gzip, bzip2), - for stdin")->required();
  prepare->add_option("--out", prep->options.out, "output folder (written whole or not at all)")->required();
  prepare->add_option("--shard-size", prep->shard_size, "residues per shard file, at most (1G, 256M, ...)")
      ->capture_default_str();
  add_unknown_option(*prepare, prep->options.unknown);
  non_negative(prepare->add_option("--min-length", prep->options.filter.min_length, "drop shorter sequences"))
      ->capture_default_str();
  non_negative(prepare->add_option("--max-length", prep->options.filter.max_length,
                                   "drop longer sequences (0: keep all; training crops long ones)"))
      ->capture_default_str();
  prepare->add_flag("--swissprot-only", prep->options.filter.swissprot_only, "keep Swiss-Prot (>sp|) records only");
  prepare->add_option("--taxid", prep->options.filter.taxids, "keep only these OX=/TaxID= taxa (repeatable)");
  prepare->add_option("--valid", prep->options.split.valid_fraction, "share of accessions for validation")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  prepare->add_option("--test", prep->options.split.test_fraction, "share of accessions for test")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  prepare->add_option("--split-seed", prep->options.split.seed, "seed of the split assignment")->capture_default_str();
  prepare->add_flag("--force", prep->options.force, "replace an existing prepared folder");
  prepare->callback([prep] { run_prepare(*prep); });
  (void)global;
}

}  // namespace performer::cli
