#include "core/analysis.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace performer::core {
namespace {

at::Tensor row(const std::vector<int64_t>& tokens, const torch::Device& device) {
  return torch::tensor(tokens, torch::kLong).to(device).unsqueeze(0);  // [1, L]
}

// Analyses run the model as in evaluation (no dropout, no projection redraw, whatever mode the caller
// left it in) and leave the mode as they found it.
class EvalMode {
 public:
  explicit EvalMode(ProteinLM& model) : model_(model), was_training_(model->is_training()) { model_->eval(); }
  ~EvalMode() {
    if (was_training_) model_->train();
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  ProteinLM& model_;
  bool was_training_;
};

torch::Device device_of(ProteinLM& model) { return model->embedding->weight.device(); }

SequenceScore finish(double ll, int64_t n) {
  SequenceScore s;
  s.length = n;
  s.log_likelihood = ll;
  s.mean_log_likelihood = n ? ll / n : 0;
  s.perplexity = std::exp(-s.mean_log_likelihood);
  return s;
}

void check_mutations(const std::vector<int64_t>& residues, const std::vector<Substitution>& mutations) {
  for (const auto& m : mutations) {
    require_config(m.index >= 0 && m.index < static_cast<int64_t>(residues.size()), "mutation outside the sequence");
    if (residues[m.index] != m.wild_type) throw InputError("mutation wild type does not match the sequence");
  }
}

// log-softmax over the vocabulary of positions of one framed row: [L, V].
at::Tensor log_probs(ProteinLM& model, const std::vector<int64_t>& tokens) {
  return at::log_softmax(model->forward(row(tokens, device_of(model))).to(at::kFloat)[0], -1);
}


std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = 0.5 * (i + j) + 1;  // ties share their average rank
    for (size_t k = i; k <= j; ++k) r[order[k]] = rank;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

SequenceScore score_autoregressive(ProteinLM& model, const std::vector<int64_t>& residues) {
  require_config(model->config.causal(), "exact likelihoods need an autoregressive (ar) model");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::vector<int64_t> input = {SpecialTokens::cls};
  input.insert(input.end(), residues.begin(), residues.end());  // position i predicts residue i
  at::Tensor lp = log_probs(model, input);                       // [n + 1, V]
  at::Tensor targets = torch::tensor(residues, torch::kLong).to(lp.device());
  const double ll = lp.narrow(0, 0, residues.size()).gather(1, targets.unsqueeze(1)).sum().item<double>();
  return finish(ll, static_cast<int64_t>(residues.size()));
}

SequenceScore score_pseudo_likelihood(ProteinLM& model, const std::vector<int64_t>& residues, int64_t batch,
                                      const std::function<void(int64_t)>& after_batch) {
  require_config(!model->config.causal(), "pseudo-likelihoods need a masked (mlm) model");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  const std::vector<int64_t> tokens = framed_tokens(residues);
  const int64_t n = static_cast<int64_t>(residues.size()), l = n + 2;
  at::Tensor base = row(tokens, device);  // [1, L]
  double ll = 0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t b = std::min(batch, n - start);
    at::Tensor positions = torch::arange(start + 1, start + 1 + b, torch::kLong).to(device);  // token positions
    at::Tensor input = base.expand({b, l}).clone();
    input.scatter_(1, positions.unsqueeze(1), SpecialTokens::mask);
    at::Tensor logits = model->forward(input).to(at::kFloat);  // [b, L, V]
    at::Tensor at_mask = logits.gather(1, positions.view({b, 1, 1}).expand({b, 1, logits.size(2)})).squeeze(1);
    at::Tensor truth = base[0].index_select(0, positions);
    ll += at::log_softmax(at_mask, -1).gather(1, truth.unsqueeze(1)).sum().item<double>();
    if (after_batch) after_batch(start + b);
  }
  return finish(ll, n);
}

double masked_marginal(ProteinLM& model, const std::vector<int64_t>& residues,
                       const std::vector<Substitution>& mutations) {
  check_mutations(residues, mutations);
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::vector<int64_t> tokens = framed_tokens(residues);
  for (const auto& m : mutations) tokens[m.index + 1] = SpecialTokens::mask;
  at::Tensor lp = log_probs(model, tokens);
  double score = 0;
  for (const auto& m : mutations) score += (lp[m.index + 1][m.mutant] - lp[m.index + 1][m.wild_type]).item<double>();
  return score;
}

double wildtype_marginal(ProteinLM& model, const std::vector<int64_t>& residues,
                         const std::vector<Substitution>& mutations) {
  check_mutations(residues, mutations);
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  at::Tensor lp = log_probs(model, framed_tokens(residues));
  double score = 0;
  for (const auto& m : mutations) score += (lp[m.index + 1][m.mutant] - lp[m.index + 1][m.wild_type]).item<double>();
  return score;
}

double log_likelihood_ratio(ProteinLM& model, const std::vector<int64_t>& residues,
                            const std::vector<Substitution>& mutations) {
  check_mutations(residues, mutations);
  std::vector<int64_t> mutant = residues;
  for (const auto& m : mutations) mutant[m.index] = m.mutant;
  return score_autoregressive(model, mutant).log_likelihood - score_autoregressive(model, residues).log_likelihood;
}

int64_t attention_maps_bytes(const ModelConfig& config, int64_t tokens) {
  const int64_t square = tokens * tokens * static_cast<int64_t>(sizeof(float));
  return 2 * config.layers * config.heads * square + 8 * square;
}

at::Tensor hidden_states(ProteinLM& model, const std::vector<int64_t>& tokens, const std::vector<int64_t>& layers) {
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::vector<at::Tensor> outputs;
  at::Tensor final = model->encode(row(tokens, device_of(model)), {}, &outputs);
  std::vector<at::Tensor> picked;
  for (int64_t layer : layers) {
    if (layer == -1) picked.push_back(final[0]);
    else {
      require_config(layer >= 0 && layer < static_cast<int64_t>(outputs.size()),
                     "layer " + std::to_string(layer) + " does not exist (0.." + std::to_string(outputs.size() - 1) +
                         ", or -1 for the final output)");
      picked.push_back(outputs[layer][0]);
    }
  }
  return at::stack(picked);  // [layers, L, d]
}

at::Tensor attention_maps(ProteinLM& model, const std::vector<int64_t>& tokens) {
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  at::Tensor h = model->embed(row(tokens, device_of(model)));
  std::vector<at::Tensor> layers;
  for (const auto& item : *model->blocks) {
    auto block = item->as<TransformerBlock>();
    auto [q, k, v] = block->attention->project(block->norm1->forward(h));
    const AttentionOptions options = block->attention->attention_options();
    std::vector<at::Tensor> heads;
    for (int64_t head = 0; head < q.size(1); ++head) heads.push_back(attention_weights(q, k, options, {}, 0, head));
    layers.push_back(at::stack(heads));  // [H, L, L]
    h = block->forward(h, {});
  }
  return at::stack(layers).to(at::kFloat);  // [layers, H, L, L]
}

at::Tensor contact_scores(const at::Tensor& maps) {
  at::Tensor f = maps + maps.transpose(-1, -2);  // symmetrised
  at::Tensor apc = f.sum(-1, true) * f.sum(-2, true) / f.sum({-1, -2}, true);
  return (f - apc).mean(std::vector<int64_t>{0, 1});  // [L, L]
}

void accumulate_type_attention(ProteinLM& model, const std::vector<int64_t>& tokens,
                               const std::vector<int64_t>& residue_types, int64_t types, at::Tensor& mass,
                               at::Tensor& key_counts) {
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  at::Tensor type_ids = torch::tensor(residue_types, torch::kLong);          // [L]
  at::Tensor valid = type_ids >= 0;
  at::Tensor onehot = at::one_hot(type_ids.clamp_min(0), types).to(at::kFloat) * valid.unsqueeze(1);  // [L, T]
  at::Tensor h = model->embed(row(tokens, device));
  at::Tensor query_rows = valid.nonzero().squeeze(1);
  at::Tensor query_types = type_ids.index_select(0, query_rows);
  for (const auto& item : *model->blocks) {
    auto block = item->as<TransformerBlock>();
    auto [q, k, v] = block->attention->project(block->norm1->forward(h));
    at::Tensor values = onehot.to(device).to(q.scalar_type()).expand({q.size(0), q.size(1), -1, -1});  // [1, H, L, T]
    at::Tensor received = attention(q, k, values, block->attention->attention_options());  // [1, H, L, T]
    at::Tensor per_query = received[0].sum(0).to(at::kCPU).to(at::kDouble);  // [L, T], summed over heads
    mass.index_add_(0, query_types, per_query.index_select(0, query_rows));
    h = block->forward(h, {});
  }
  key_counts += onehot.sum(0).to(at::kDouble);
}

at::Tensor similarity_from_mass(const at::Tensor& mass, const at::Tensor& key_counts) {
  at::Tensor share = mass / mass.sum(1, true).clamp_min(1e-300);    // where each type's attention goes
  at::Tensor background = key_counts / key_counts.sum();           // how common each type is as a key
  at::Tensor enrichment = at::log2((share / background.unsqueeze(0)).clamp_min(1e-12));
  return 0.5 * (enrichment + enrichment.t());
}

std::pair<double, double> offdiagonal_correlations(const at::Tensor& a, const at::Tensor& b) {
  require_config(a.sizes() == b.sizes() && a.dim() == 2 && a.size(0) == a.size(1), "matrices must be square and equal");
  std::vector<double> x, y;
  at::Tensor ad = a.to(at::kDouble).contiguous(), bd = b.to(at::kDouble).contiguous();
  // Pairs with a value that is not finite (a pair never seen: log of 0) are left out of both
  // coefficients, so that they always describe the same pairs.
  for (int64_t i = 0; i < a.size(0); ++i)
    for (int64_t j = i + 1; j < a.size(1); ++j) {
      const double u = ad[i][j].item<double>(), v = bd[i][j].item<double>();
      if (!std::isfinite(u) || !std::isfinite(v)) continue;
      x.push_back(u);
      y.push_back(v);
    }
  if (x.size() < 3) return {std::nan(""), std::nan("")};
  return {pearson(x, y), pearson(average_ranks(x), average_ranks(y))};
}

}  // namespace performer::core
