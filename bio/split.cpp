#include "bio/split.h"

#include <algorithm>

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

Split split_of(std::string_view accession, const SplitOptions& options) {
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

bool needs_header(const FilterOptions& options) { return options.swissprot_only || !options.taxids.empty(); }

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

}  // namespace performer::bio
