#pragma once
// The compute layer: a checkpoint loaded for inference, and what the viewer asks of it (attention maps
// of one sequence, the residue similarity over a FASTA file). The only part of gui/ that sees LibTorch;
// this header shows none of it, so widgets and tests compile without LibTorch's headers.
#include <QString>

#include <memory>
#include <mutex>

#include "gui/job_control.h"
#include "gui/sequences.h"
#include "gui/view_data.h"

namespace performer::view {

// LibTorch's and its BLAS's threads: every core this process may use (the GUI thread is idle while it
// waits). Call before the first matrix product.
void use_all_cores();

class LoadedModel {
 public:
  // Loads a checkpoint on the CPU in eval mode. InputError for a missing file or one that is not a
  // performer checkpoint, ConfigError for another vocabulary; the message names the file.
  static std::shared_ptr<LoadedModel> load(const QString& path);
  ~LoadedModel();

  QString path() const;
  QString description() const;  // "small · favor_relu · mlm · step 60"
  int layers() const;
  int heads() const;

  // Every layer's and head's attention over the residues of one sequence (the <cls>/<eos> rows and
  // columns of the framed row are dropped). InputError for a character that is not a residue.
  AttentionData attention(const SequenceInput& sequence, const JobControl& control = {});

  // The 20 x 20 residue similarity by `method` (attention, attention-profile, substitution, embedding:
  // bio/similarity.h) over the first n sequences of a FASTA file, against BLOSUM62 in the same order
  // (residue groups), with their off-diagonal correlations, both controls and, for the attention
  // methods, the correlation of each head. ConfigError for an unknown method.
  SimilarityData similarity(const QString& fasta, int n, const QString& method = "attention",
                            const JobControl& control = {});

 private:
  struct Impl;
  explicit LoadedModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::mutex busy_;  // one computation at a time: a module's forward is not re-entrant
};

}  // namespace performer::view
