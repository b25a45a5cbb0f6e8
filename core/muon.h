#pragma once
// Muon: momentum SGD whose update for each weight matrix is orthogonalised (its singular values set to
// about 1 by a quintic Newton-Schulz iteration) before it is applied. The hidden matrices of the blocks
// take Muon; embeddings, LayerNorms and biases take AdamW, as in the setups where Muon was shown to train
// language models in fewer tokens than AdamW alone. Updates are scaled to the RMS AdamW's would have
// (`rms` x sqrt(larger side)), so the two halves share one learning rate and schedule.
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

namespace performer::core {

// U V^T of g = U S V^T, approximately: singular values land in about [0.7, 1.2] (five steps). g is
// [rows, cols] or a batch [..., rows, cols]; the products run in `dtype` (the first normalisation in
// float32), the result comes back in g's dtype.
at::Tensor orthogonalize(const at::Tensor& g, int64_t steps = 5, at::ScalarType dtype = at::kFloat);

struct MuonOptions {
  double learning_rate = 1e-3;  // peak rate of both halves (Muon's updates are scaled to AdamW's RMS)
  double momentum = 0.95;       // Muon's momentum (Nesterov)
  int64_t ns_steps = 5;         // Newton-Schulz iterations
  double rms = 0.2;             // RMS of a Muon update at rate 1, AdamW's typical one
  double weight_decay = 0.01;   // decoupled, both halves
  double beta1 = 0.9;           // AdamW half
  double beta2 = 0.98;          // AdamW half
  at::ScalarType dtype = at::kFloat;  // of the Newton-Schulz products (bf16 with mixed precision)
};

// A Muon-updated weight: `blocks` row blocks orthogonalised separately (a fused q/k/v projection: 3).
struct MuonMatrix {
  at::Tensor parameter;
  int64_t blocks = 1;
};

class Muon : public torch::optim::Optimizer {
 public:
  Muon(std::vector<MuonMatrix> matrices, std::vector<at::Tensor> others, MuonOptions options);

  // The rate of both halves is the base class's group rate (AdamWOptions), set as for AdamW itself.
  at::Tensor step(LossClosure closure = nullptr) override;
  // State: the momentum buffers and the AdamW half's state, in one archive that AdamW cannot read.
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<MuonMatrix> matrices_;
  std::vector<at::Tensor> momentum_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  MuonOptions options_;
};

}  // namespace performer::core
