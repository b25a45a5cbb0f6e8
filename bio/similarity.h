#pragma once
// The amino-acid similarity matrix learned by attention (the Performer paper's analysis): attention mass
// between residue types over the first n sequences of a FASTA file, against a substitution matrix in the
// same residue order. Shared by `performer similarity` and the viewer's similarity tab.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bio/vocabulary.h"
#include "core/model.h"

namespace performer::bio {

constexpr std::string_view kStandardOrder = "ACDEFGHIKLMNPQRSTVWY";  // rows and columns of both matrices

struct ResidueSimilarity {
  at::Tensor attention;        // [20, 20] double: log2 attention odds between types, symmetric
  at::Tensor reference;        // [20, 20] double: the substitution matrix
  std::string reference_name;  // "blosum62", or the matrix file
  double pearson = 0;          // over the 190 off-diagonal pairs
  double spearman = 0;
  int64_t sequences = 0;       // sequences averaged over
};

// Reads up to n sequences of `fasta`; characters that are not residues follow `unknown` (x: read as X,
// which has no row; skip: the record is left out; error: InputError naming record and position).
// after_sequence(sequences so far) runs after each one: for progress, and it may throw to stop.
// Throws InputError when the file holds no sequence.
ResidueSimilarity residue_similarity(core::ProteinLM& model, const std::string& fasta, int64_t n,
                                     const std::string& matrix = "blosum62",
                                     UnknownPolicy unknown = UnknownPolicy::error,
                                     const std::function<void(int64_t)>& after_sequence = {});

}  // namespace performer::bio
