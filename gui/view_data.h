#pragma once
// What the viewer shows, as plain values: computed off the GUI thread by the compute layer, then shared
// read-only (std::shared_ptr<const ...>) by figures, widgets and exporters.
#include <QString>

#include <cmath>
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

// A control's correlation with the reference (NaN: not computed).
struct SimilarityControl {
  double pearson = std::nan("");
  double spearman = std::nan("");
};

struct SimilarityData {
  QString method = "attention";  // attention, attention-profile, substitution or embedding (bio/similarity.h)
  QString order;             // residue letters of rows and columns, by residue group
  std::vector<int> groups;   // sizes of the residue groups along `order` (lines between them); may be empty
  Matrix matrix;             // [20, 20] the model's similarity by `method`, symmetric
  Matrix reference;          // [20, 20] substitution scores in the same order
  QString reference_name;    // "blosum62"
  double pearson = 0;        // off-diagonal entries of the two matrices
  double spearman = 0;
  SimilarityControl untrained;  // the same method on the untrained model of the same config
  SimilarityControl shuffled;   // ... on the sequences with their residues shuffled
  Matrix heads;              // Pearson of each [layer, head] (attention) or [layer, 1] (attention-profile); may be empty
  int sequences = 0;         // sequences averaged over
  QString source;            // the FASTA file they came from
  QString model;
};

}  // namespace performer::view
