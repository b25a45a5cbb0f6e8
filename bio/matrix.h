#pragma once
// Amino-acid substitution matrices (BLOSUM and friends) as square tables over named letters, for the
// attention-similarity analysis: built in (from seqan3) or read from NCBI-format files.
#include <string>
#include <string_view>
#include <vector>

namespace performer::bio {

struct SubstitutionMatrix {
  std::string name;            // "blosum62", or the file it came from
  std::string letters;         // row and column order (upper case)
  std::vector<double> scores;  // letters.size() x letters.size(), row-major

  size_t size() const { return letters.size(); }
  double score(char a, char b) const;  // throws InputError for a letter the matrix lacks
  // The matrix over `order` (e.g. the 20 standard residues), in that order.
  SubstitutionMatrix restricted(std::string_view order) const;
};

// blosum30, blosum45, blosum62, blosum80 (seqan3's tables) over ARNDCQEGHILKMFPSTWYVBZX*'s first 23
// letters, ARNDCQEGHILKMFPSTWYVBZX; throws ConfigError for other names.
SubstitutionMatrix builtin_matrix(const std::string& name);

// NCBI text format (as BLAST and MMseqs2 ship): '#' comments, a row of column letters, then one row
// per letter: "A  4 -1 -2 ...". Throws InputError naming the file and line for anything else.
SubstitutionMatrix read_ncbi_matrix(const std::string& path);

// A built-in name or else a file path.
SubstitutionMatrix load_matrix(const std::string& name_or_path);

}  // namespace performer::bio
