#pragma once
// Point mutations in the usual notation: A24C (wild type A at 24 becomes C); multi-mutants A24C:G30D.
#include <cstdint>
#include <string>
#include <vector>

namespace performer::bio {

struct Mutation {
  char wild_type = 0;    // residue the sequence must have there (upper case)
  int64_t position = 0;  // in the numbering of the mutation string
  char mutant = 0;       // replacement residue (upper case)
};

// Parses "A24C" or "A24C:G30D" (also ',' or ';' between mutations). Letters must be residues of the
// vocabulary. Throws InputError quoting the text for anything else, or a position mutated twice.
std::vector<Mutation> parse_mutations(const std::string& text);

// Applies mutations to sequence, whose first residue is numbered `offset` (1 by default). Throws
// InputError when a position is outside the sequence or the wild type does not match.
std::string apply_mutations(const std::string& sequence, const std::vector<Mutation>& mutations,
                            int64_t offset = 1);

std::string to_string(const Mutation& mutation);  // "A24C"

}  // namespace performer::bio
