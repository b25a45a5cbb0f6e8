#include "core/analysis.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

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

// Masked models: the log-softmax over the vocabulary at each residue with that residue alone masked,
// `batch` masked copies of the framed row per forward pass: [n, V] float, on the model's device.
// after_batch(residues done) after each pass.
at::Tensor masked_log_probs(ProteinLM& model, const std::vector<int64_t>& residues, int64_t batch,
                            const std::function<void(int64_t)>& after_batch) {
  const auto device = device_of(model);
  const int64_t n = static_cast<int64_t>(residues.size()), l = n + 2;
  at::Tensor base = row(framed_tokens(residues), device);  // [1, L]
  std::vector<at::Tensor> rows;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t b = std::min(batch, n - start);
    at::Tensor positions = torch::arange(start + 1, start + 1 + b, torch::kLong).to(device);  // token positions
    at::Tensor input = base.expand({b, l}).clone();
    input.scatter_(1, positions.unsqueeze(1), SpecialTokens::mask);
    at::Tensor logits = model->forward(input).to(at::kFloat);  // [b, L, V]
    at::Tensor at_mask = logits.gather(1, positions.view({b, 1, 1}).expand({b, 1, logits.size(2)})).squeeze(1);
    rows.push_back(at::log_softmax(at_mask, -1));  // [b, V]
    if (after_batch) after_batch(start + b);
  }
  return at::cat(rows);
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
  const int64_t n = static_cast<int64_t>(residues.size());
  if (n == 0) return finish(0, 0);
  at::Tensor lp = masked_log_probs(model, residues, batch, after_batch);  // [n, V]
  at::Tensor truth = torch::tensor(residues, torch::kLong).to(lp.device());
  return finish(lp.gather(1, truth.unsqueeze(1)).to(at::kDouble).sum().item<double>(), n);
}

namespace {

// Rows [B, width] of token lists, right-padded with <pad>, and their padding mask (true on padding).
std::pair<at::Tensor, at::Tensor> padded_rows(const std::vector<std::vector<int64_t>>& rows, int64_t width,
                                              const torch::Device& device) {
  at::Tensor tokens = at::full({static_cast<int64_t>(rows.size()), width}, SpecialTokens::pad, at::kLong);
  at::Tensor padding = at::ones({static_cast<int64_t>(rows.size()), width}, at::kBool);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t n = static_cast<int64_t>(rows[r].size());
    tokens[static_cast<int64_t>(r)].narrow(0, 0, n).copy_(torch::tensor(rows[r], torch::kLong));
    padding[static_cast<int64_t>(r)].narrow(0, 0, n).fill_(false);
  }
  return {tokens.to(device), padding.to(device)};
}

}  // namespace

std::vector<SequenceScore> score_autoregressive_batch(ProteinLM& model,
                                                      const std::vector<std::vector<int64_t>>& sequences,
                                                      int64_t tokens_per_pass,
                                                      const std::function<void(size_t)>& after_sequence) {
  require_config(model->config.causal(), "exact likelihoods need an autoregressive (ar) model");
  require_config(tokens_per_pass >= 1, "the tokens per pass must be at least 1");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  std::vector<SequenceScore> out(sequences.size());
  // Longest first, so that each pass holds sequences of similar length and little padding.
  std::vector<size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sequences[a].size() > sequences[b].size(); });
  for (size_t start = 0; start < order.size();) {
    const int64_t width = static_cast<int64_t>(sequences[order[start]].size()) + 1;  // <cls> + residues
    size_t end = start + 1;
    while (end < order.size() && static_cast<int64_t>(end - start + 1) * width <= tokens_per_pass) ++end;
    std::vector<std::vector<int64_t>> rows, targets;
    for (size_t k = start; k < end; ++k) {
      const auto& residues = sequences[order[k]];
      std::vector<int64_t> input = {SpecialTokens::cls};
      input.insert(input.end(), residues.begin(), residues.end());  // position i predicts residue i
      rows.push_back(std::move(input));
      targets.push_back(residues);
    }
    auto [tokens, padding] = padded_rows(rows, width, device);
    auto [target_ids, no_target] = padded_rows(targets, width, device);
    at::Tensor lp = at::log_softmax(model->forward(tokens, padding).to(at::kFloat), -1);  // [B, width, V]
    at::Tensor picked = lp.gather(2, target_ids.unsqueeze(2)).squeeze(2).masked_fill(no_target, 0);  // [B, width]
    at::Tensor sums = picked.to(at::kDouble).sum(1).to(at::kCPU);
    for (size_t k = start; k < end; ++k) {
      out[order[k]] = finish(sums[static_cast<int64_t>(k - start)].item<double>(),
                             static_cast<int64_t>(sequences[order[k]].size()));
      if (after_sequence) after_sequence(order[k]);
    }
    start = end;
  }
  return out;
}

std::vector<SequenceScore> score_pseudo_likelihood_batch(ProteinLM& model,
                                                         const std::vector<std::vector<int64_t>>& sequences,
                                                         int64_t rows_per_pass,
                                                         const std::function<void(int64_t)>& after_rows) {
  require_config(!model->config.causal(), "pseudo-likelihoods need a masked (mlm) model");
  require_config(rows_per_pass >= 1, "the rows per pass must be at least 1");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  // Every (sequence, residue) pair is one masked copy; passes take them in order, so a pass holds the
  // copies of one long protein or of several short ones.
  std::vector<std::pair<size_t, int64_t>> copies;
  for (size_t s = 0; s < sequences.size(); ++s)
    for (int64_t i = 0; i < static_cast<int64_t>(sequences[s].size()); ++i) copies.emplace_back(s, i);
  std::vector<double> ll(sequences.size(), 0.0);
  int64_t done = 0;
  for (size_t start = 0; start < copies.size(); start += static_cast<size_t>(rows_per_pass)) {
    const size_t end = std::min(copies.size(), start + static_cast<size_t>(rows_per_pass));
    std::vector<std::vector<int64_t>> rows;
    std::vector<int64_t> positions, truth;
    int64_t width = 0;
    for (size_t k = start; k < end; ++k) {
      const auto& [s, i] = copies[k];
      std::vector<int64_t> framed = framed_tokens(sequences[s]);
      truth.push_back(framed[i + 1]);
      framed[i + 1] = SpecialTokens::mask;
      positions.push_back(i + 1);
      width = std::max<int64_t>(width, static_cast<int64_t>(framed.size()));
      rows.push_back(std::move(framed));
    }
    auto [tokens, padding] = padded_rows(rows, width, device);
    const int64_t b = static_cast<int64_t>(rows.size());
    at::Tensor pos = torch::tensor(positions, torch::kLong).to(device);
    at::Tensor logits = model->forward(tokens, padding).to(at::kFloat);  // [b, width, V]
    at::Tensor at_mask = logits.gather(1, pos.view({b, 1, 1}).expand({b, 1, logits.size(2)})).squeeze(1);  // [b, V]
    at::Tensor lp = at::log_softmax(at_mask, -1).gather(1, torch::tensor(truth, torch::kLong).to(device).unsqueeze(1));
    at::Tensor values = lp.squeeze(1).to(at::kDouble).to(at::kCPU).contiguous();
    const double* v = values.data_ptr<double>();
    for (size_t k = start; k < end; ++k) ll[copies[k].first] += v[k - start];
    done += b;
    if (after_rows) after_rows(done);
  }
  std::vector<SequenceScore> out;
  for (size_t s = 0; s < sequences.size(); ++s) out.push_back(finish(ll[s], static_cast<int64_t>(sequences[s].size())));
  return out;
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

namespace {

// scores [L, V] -> [L, T]: entry (i, t) = scores[i][tokens[t]] - scores[i][residues[i]].
at::Tensor relative_to_wild_type(const at::Tensor& scores, const std::vector<int64_t>& residues,
                                 const std::vector<int64_t>& tokens) {
  at::Tensor wt = scores.gather(1, torch::tensor(residues, torch::kLong).to(scores.device()).unsqueeze(1));  // [L, 1]
  return (scores.index_select(1, torch::tensor(tokens, torch::kLong).to(scores.device())) - wt).to(at::kCPU);
}

}  // namespace

at::Tensor wildtype_marginal_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                  const std::vector<int64_t>& tokens) {
  require_config(!model->config.causal(), "marginals need a masked (mlm) model");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  at::Tensor lp = log_probs(model, framed_tokens(residues)).to(at::kDouble);  // [L + 2, V]
  return relative_to_wild_type(lp.narrow(0, 1, static_cast<int64_t>(residues.size())), residues, tokens);
}

at::Tensor masked_marginal_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                const std::vector<int64_t>& tokens, int64_t batch,
                                const std::function<void(int64_t)>& after_batch) {
  require_config(!model->config.causal(), "marginals need a masked (mlm) model");
  require_config(batch >= 1, "the batch must be at least 1");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  return relative_to_wild_type(masked_log_probs(model, residues, batch, after_batch).to(at::kDouble), residues, tokens);
}

at::Tensor log_likelihood_ratio_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                     const std::vector<int64_t>& tokens, int64_t batch,
                                     const std::function<void(int64_t)>& after_batch) {
  require_config(model->config.causal(), "likelihood ratios need an autoregressive (ar) model");
  require_config(batch >= 1, "the batch must be at least 1");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  const int64_t n = static_cast<int64_t>(residues.size()), types = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> input = {SpecialTokens::cls};
  input.insert(input.end(), residues.begin(), residues.end());  // row i predicts residue i
  at::Tensor base = row(input, device);                         // [1, n + 1]
  at::Tensor targets = torch::tensor(residues, torch::kLong).to(device);
  // Per-position log p of the wild type: the mutants' totals are compared with its sum.
  const at::Tensor wt_lp = log_probs(model, input).narrow(0, 0, n).gather(1, targets.unsqueeze(1)).squeeze(1).to(at::kDouble);
  const double wt_total = wt_lp.sum().item<double>();
  // Mutants in position-major order, skipping each position's wild type.
  std::vector<std::pair<int64_t, int64_t>> mutants;  // (position, index into tokens)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < types; ++t)
      if (tokens[t] != residues[i]) mutants.emplace_back(i, t);
  at::Tensor out = at::zeros({n, types}, at::kDouble);
  const int64_t count = static_cast<int64_t>(mutants.size());
  for (int64_t start = 0; start < count; start += batch) {
    const int64_t b = std::min(batch, count - start);
    at::Tensor in = base.expand({b, n + 1}).clone();
    at::Tensor seq_targets = targets.unsqueeze(0).expand({b, n}).clone();  // [b, n]
    for (int64_t k = 0; k < b; ++k) {
      const auto [i, t] = mutants[start + k];
      in[k][i + 1] = tokens[t];
      seq_targets[k][i] = tokens[t];
    }
    at::Tensor lp = at::log_softmax(model->forward(in).to(at::kFloat).narrow(1, 0, n), -1);  // [b, n, V]
    at::Tensor totals = lp.gather(2, seq_targets.unsqueeze(2)).squeeze(2).to(at::kDouble).sum(1).to(at::kCPU);  // [b]
    for (int64_t k = 0; k < b; ++k) {
      const auto [i, t] = mutants[start + k];
      out[i][t] = totals[k].item<double>() - wt_total;
    }
    if (after_batch) after_batch(start + b);
  }
  return out;
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
                               at::Tensor& key_counts, const TypeAttentionOptions& options) {
  const ModelConfig& config = model->config;
  require_config(mass.sizes() == at::IntArrayRef({config.layers, config.heads, types, types}),
                 "type attention mass must be [layers, heads, types, types]");
  require_config(residue_types.size() == tokens.size(), "one residue type per token");
  const int64_t l = static_cast<int64_t>(tokens.size());
  const bool each_weight = options.exclude_near >= 0 || options.min_weight > 0;
  if (each_weight && l * l * static_cast<int64_t>(sizeof(double)) * 2 > (int64_t{1} << 30))
    throw InputError("leaving out near pairs or small weights needs each head's L x L weights: a row of " +
                     std::to_string(l) + " tokens needs " + std::to_string(l * l * 16 >> 20) +
                     " MiB a head, more than the 1 GiB allowed; use shorter sequences or neither option");
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  const auto device = device_of(model);
  at::Tensor type_ids = torch::tensor(residue_types, torch::kLong);  // [L]
  at::Tensor valid = type_ids >= 0;
  at::Tensor onehot = at::one_hot(type_ids.clamp_min(0), types).to(at::kFloat) * valid.unsqueeze(1);  // [L, T]
  at::Tensor onehot_t = onehot.to(at::kDouble).t().contiguous();  // [T, L]: sums query rows by type
  at::Tensor keep;                                                 // [L, L] double: which pairs count
  if (options.exclude_near >= 0) {
    at::Tensor pos = torch::arange(l, torch::kLong);
    keep = ((pos.unsqueeze(1) - pos.unsqueeze(0)).abs() > options.exclude_near).to(at::kDouble);
  }
  at::Tensor h = model->embed(row(tokens, device));
  int64_t layer = 0;
  for (const auto& item : *model->blocks) {
    auto block = item->as<TransformerBlock>();
    auto [q, k, v] = block->attention->project(block->norm1->forward(h));
    const AttentionOptions attention_options = block->attention->attention_options();
    if (!each_weight) {
      at::Tensor values = onehot.to(device).to(q.scalar_type()).expand({q.size(0), q.size(1), -1, -1});  // [1, H, L, T]
      at::Tensor received = attention(q, k, values, attention_options)[0].to(at::kCPU).to(at::kDouble);  // [H, L, T]
      mass[layer] += at::matmul(onehot_t, received);  // [H, T, T]
    } else {
      at::Tensor keys = onehot.to(at::kDouble);  // [L, T]
      for (int64_t head = 0; head < q.size(1); ++head) {
        at::Tensor w = attention_weights(q, k, attention_options, {}, 0, head).to(at::kCPU).to(at::kDouble);  // [L, L]
        if (keep.defined()) w = w * keep;
        if (options.min_weight > 0) w = w * (w >= options.min_weight).to(at::kDouble);
        mass[layer][head] += at::matmul(onehot_t, at::matmul(w, keys));
      }
    }
    h = block->forward(h, {});
    ++layer;
  }
  key_counts += onehot.sum(0).to(at::kDouble);
}

at::Tensor profile_similarity(const at::Tensor& head_mass) {
  require_config(head_mass.dim() == 3 && head_mass.size(1) == head_mass.size(2), "head mass must be [heads, types, types]");
  const int64_t types = head_mass.size(1);
  at::Tensor to_type = head_mass.to(at::kDouble).sum(1);  // [heads, T]: attention each head gives to each key type
  at::Tensor total = to_type.sum(1);
  at::Tensor used = (total > 0).nonzero().squeeze(1);  // heads that attended to residues at all
  if (used.size(0) < 3) return at::full({types, types}, std::nan(""), at::kDouble);
  at::Tensor share = to_type.index_select(0, used) / total.index_select(0, used).unsqueeze(1);  // [heads, T]
  at::Tensor centred = share - share.mean(0, true);
  at::Tensor cov = at::matmul(centred.t(), centred);  // [T, T]
  at::Tensor sd = cov.diagonal().sqrt();
  at::Tensor corr = cov / (sd.unsqueeze(1) * sd.unsqueeze(0));  // 0 / 0 = NaN where a share is constant
  return corr.clamp(-1, 1);  // NaN stays NaN
}

void accumulate_substitution(ProteinLM& model, const std::vector<int64_t>& residues,
                             const std::vector<int64_t>& residue_types, const std::vector<int64_t>& type_tokens,
                             at::Tensor& sums, at::Tensor& counts, uint64_t seed, double mask_fraction) {
  require_config(residue_types.size() == residues.size(), "one residue type per residue");
  require_config(mask_fraction > 0 && mask_fraction <= 1, "the mask fraction must be in (0, 1]");
  std::vector<int64_t> counted;  // residue indexes whose prediction is counted
  for (size_t i = 0; i < residues.size(); ++i)
    if (residue_types[i] >= 0) counted.push_back(static_cast<int64_t>(i));
  if (counted.empty()) return;
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::vector<int64_t> input, rows;  // the row the model reads; the row of its logits predicting each residue
  if (model->config.causal()) {
    input = {SpecialTokens::cls};  // row i predicts residue i, as in score_autoregressive
    input.insert(input.end(), residues.begin(), residues.end());
    rows = counted;
  } else {
    input = framed_tokens(residues);
    std::mt19937_64 rng(seed);
    std::bernoulli_distribution masked(mask_fraction);
    std::vector<int64_t> chosen;
    for (int64_t i : counted)
      if (masked(rng)) chosen.push_back(i);
    if (chosen.empty()) chosen.push_back(counted[std::uniform_int_distribution<size_t>(0, counted.size() - 1)(rng)]);
    counted = chosen;
    for (int64_t i : counted) {
      input[i + 1] = SpecialTokens::mask;
      rows.push_back(i + 1);
    }
  }
  at::Tensor logits = model->forward(row(input, device_of(model)))[0].to(at::kCPU).to(at::kDouble);  // [L, V]
  at::Tensor picked = logits.index_select(0, torch::tensor(rows, torch::kLong))
                          .index_select(1, torch::tensor(type_tokens, torch::kLong));  // [P, T]
  at::Tensor probs = at::softmax(picked, 1);
  std::vector<int64_t> truth;
  for (int64_t i : counted) truth.push_back(residue_types[i]);
  at::Tensor truth_t = torch::tensor(truth, torch::kLong);
  sums.index_add_(0, truth_t, probs);
  counts.index_add_(0, truth_t, at::ones({static_cast<int64_t>(truth.size())}, at::kDouble));
}

at::Tensor similarity_from_substitution(const at::Tensor& sums, const at::Tensor& counts) {
  at::Tensor mean = sums / counts.unsqueeze(1);         // [a, b]: mean predicted p(b) where the truth is a
  at::Tensor background = counts / counts.sum();        // how common each type is among counted positions
  at::Tensor odds = at::log2(mean / background.unsqueeze(0));
  return 0.5 * (odds + odds.t());
}

at::Tensor embedding_similarity(ProteinLM& model, const std::vector<int64_t>& type_tokens) {
  torch::NoGradGuard no_grad;
  at::Tensor e = model->embedding->weight.index_select(0, torch::tensor(type_tokens, torch::kLong).to(device_of(model)))
                     .to(at::kCPU)
                     .to(at::kDouble);  // [n, d]
  e = e - e.mean(0, true);
  at::Tensor norm = e.norm(2, 1, true).clamp_min(1e-300);
  at::Tensor unit = e / norm;
  return at::matmul(unit, unit.t());
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

int64_t pair_rank(const at::Tensor& matrix, int64_t i, int64_t j) {
  require_config(matrix.dim() == 2 && matrix.size(0) == matrix.size(1) && i != j && i >= 0 && j >= 0 &&
                     i < matrix.size(0) && j < matrix.size(0),
                 "pair_rank needs a square matrix and an off-diagonal pair");
  at::Tensor m = matrix.to(at::kDouble).contiguous();
  const int64_t n = m.size(0);
  const double* v = m.data_ptr<double>();
  const double value = v[std::min(i, j) * n + std::max(i, j)];
  int64_t above = 0, pairs = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a + 1; b < n; ++b) {
      ++pairs;
      const double u = v[a * n + b];
      if (std::isfinite(u) && (!std::isfinite(value) || u > value)) ++above;
    }
  return std::isfinite(value) ? above + 1 : pairs;
}

}  // namespace performer::core
