#pragma once
// What the viewer shows, as plain values: computed off the GUI thread by the compute layer, then shared
// read-only (std::shared_ptr<const ...>) by figures, widgets and exporters.
#include <QString>

#include <vector>

#include "gui/matrix.h"

namespace performer::view {

struct AttentionData {
  QString id;                // record id, or "pasted"
  QString residues;          // one letter per residue, as tokenised
  QString model;             // a one-line description of the checkpoint
  int layers = 0;
  int heads = 0;
  std::vector<Matrix> maps;  // layers * heads, each [L, L] over residues only: row i = query, column j = key

  const Matrix& map(int layer, int head) const { return maps[static_cast<size_t>(layer) * heads + head]; }
  int length() const { return static_cast<int>(residues.size()); }
};

struct SimilarityData {
  QString order;             // residue letters of rows and columns (the 20 standard amino acids)
  Matrix attention;          // [20, 20] log2 attention share over key share, symmetrised
  Matrix reference;          // [20, 20] substitution scores in the same order
  QString reference_name;    // "blosum62"
  double pearson = 0;        // off-diagonal entries of the two matrices
  double spearman = 0;
  int sequences = 0;         // sequences averaged over
  QString source;            // the FASTA file they came from
  QString model;
};

}  // namespace performer::view
