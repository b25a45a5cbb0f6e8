#pragma once
// Which records a run uses: a stable train/valid/test split by accession, and the record filters.
// Standard library only (the prepared-data reader and its fuzz target use it without LibTorch).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bio/header.h"

namespace performer::bio {

enum class Split { train, valid, test };
std::string to_string(Split split);
Split parse_split(const std::string& name);  // throws ConfigError

struct SplitOptions {
  double valid_fraction = 0.05;  // share of accessions in the validation split
  double test_fraction = 0.05;   // share of accessions in the test split
  uint64_t seed = 0;             // another seed gives another (equally stable) assignment
};

// The split of an accession: a hash of (seed, accession) alone, so a sequence never moves between
// splits when the file grows, shrinks or is reordered.
Split split_of(std::string_view accession, const SplitOptions& options);

struct FilterOptions {
  int64_t min_length = 1;        // drop shorter sequences
  int64_t max_length = 0;        // drop longer sequences; 0: keep all (crops handle long ones)
  bool swissprot_only = false;   // keep only `>sp|` records
  std::vector<int64_t> taxids;   // keep only these OX=/TaxID= values; empty: all
};

bool passes(const Header& header, int64_t length, const FilterOptions& options);
// Whether the filters look at the header (Swiss-Prot only, taxa), or only at the length.
bool needs_header(const FilterOptions& options);

}  // namespace performer::bio
