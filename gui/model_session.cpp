#include "gui/model_session.h"

#include <torch/torch.h>

#include "bio/fasta.h"
#include "bio/similarity.h"
#include "bio/vocabulary.h"
#include "core/analysis.h"
#include "core/checkpoint.h"
#include "core/errors.h"
#include "tools/memory.h"
#include "tools/system_info.h"

namespace performer::view {
namespace {

Matrix to_matrix(const at::Tensor& t) {  // [rows, cols] float
  at::Tensor c = t.to(at::kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return Matrix(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), std::vector<float>(p, p + c.numel()));
}

}  // namespace

void use_all_cores() { tools::use_threads(tools::default_threads()); }

struct LoadedModel::Impl {
  QString path;
  core::Checkpoint checkpoint;
};

LoadedModel::LoadedModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadedModel::~LoadedModel() = default;

std::shared_ptr<LoadedModel> LoadedModel::load(const QString& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->checkpoint = core::load_checkpoint(path.toStdString(), std::string(bio::Vocabulary::kVersion));
  impl->checkpoint.model->eval();
  return std::shared_ptr<LoadedModel>(new LoadedModel(std::move(impl)));
}

QString LoadedModel::path() const { return impl_->path; }

QString LoadedModel::description() const {
  const core::ModelConfig& c = impl_->checkpoint.config;
  return QString("%1 · %2 · %3 · step %4")
      .arg(QString::fromStdString(c.preset), QString::fromStdString(core::to_string(c.attention)),
           QString::fromStdString(core::to_string(c.objective)))
      .arg(impl_->checkpoint.state.step);
}

int LoadedModel::layers() const { return static_cast<int>(impl_->checkpoint.config.layers); }
int LoadedModel::heads() const { return static_cast<int>(impl_->checkpoint.config.heads); }

AttentionData LoadedModel::attention(const SequenceInput& sequence, const JobControl& control) {
  std::lock_guard lock(busy_);
  const std::vector<int64_t> residues =
      bio::residue_tokens(sequence.residues.toStdString(), bio::UnknownPolicy::error,
                          (sequence.where.isEmpty() ? sequence.id : sequence.where).toStdString());
  const int n = static_cast<int>(residues.size());
  AttentionData data;
  data.id = sequence.id;
  for (int64_t t : residues) data.residues += QChar::fromLatin1(bio::Vocabulary::letter(static_cast<int32_t>(t)));
  data.model = description();
  data.layers = layers();
  data.heads = heads();

  control.check();
  tools::require_memory(core::attention_maps_bytes(impl_->checkpoint.config, n + 2),
                        "the attention of " + std::to_string(n) + " residues (layers x heads x L x L floats)");
  control.report(0, data.layers * data.heads, QString("attention maps of %1 residues").arg(n));
  at::Tensor maps = core::attention_maps(impl_->checkpoint.model, bio::framed_tokens(residues));  // [layers, heads, n+2, n+2]
  at::Tensor body = maps.narrow(2, 1, n).narrow(3, 1, n);                            // [layers, heads, n, n]
  for (int l = 0; l < data.layers; ++l) {
    for (int h = 0; h < data.heads; ++h) {
      control.check();
      data.maps.push_back(to_matrix(body[l][h]));
      control.report(l * data.heads + h + 1, data.layers * data.heads, QString("layer %1, head %2").arg(l).arg(h));
    }
  }
  return data;
}

SimilarityData LoadedModel::similarity(const QString& fasta, int n, const QString& method, const JobControl& control) {
  std::lock_guard lock(busy_);
  control.check();
  bio::SimilarityOptions options;
  options.method = core::parse_name<bio::SimilarityMethod>(method.toStdString(), "similarity method");
  options.n = n;
  const bool reads = bio::uses_sequences(options.method);
  const bio::ResidueSimilarity result =
      bio::residue_similarity(impl_->checkpoint.model, reads ? fasta.toStdString() : std::string(), options,
                              [&](int64_t used) {
        control.check();
        control.report(static_cast<int>(used), n, QString("sequence %1 of %2").arg(used).arg(n));
      });
  // Rows and columns by residue group, so that related residues sit side by side.
  std::vector<int64_t> index;
  for (char c : bio::kGroupOrder) index.push_back(static_cast<int64_t>(bio::kStandardOrder.find(c)));
  const at::Tensor by_group = torch::tensor(index, torch::kLong);
  auto grouped = [&](const at::Tensor& m) { return to_matrix(m.index_select(0, by_group).index_select(1, by_group)); };
  SimilarityData data;
  data.method = QString::fromStdString(core::to_string(options.method));
  data.order = QString::fromLatin1(bio::kGroupOrder.data(), static_cast<qsizetype>(bio::kGroupOrder.size()));
  data.groups.assign(bio::kGroupSizes.begin(), bio::kGroupSizes.end());
  data.matrix = grouped(result.model.matrix);
  data.reference = grouped(result.reference);
  data.reference_name = QString::fromStdString(result.reference_name);
  data.pearson = result.model.pearson;
  data.spearman = result.model.spearman;
  if (result.untrained) data.untrained = {result.untrained->pearson, result.untrained->spearman};
  if (result.shuffled) data.shuffled = {result.shuffled->pearson, result.shuffled->spearman};
  if (!result.heads.empty()) {
    const bool per_head = options.method == bio::SimilarityMethod::attention;
    data.heads = Matrix(layers(), per_head ? heads() : 1, std::nanf(""));
    for (const bio::HeadScore& h : result.heads) {
      if (per_head == (h.head >= 0)) data.heads.at(static_cast<int>(h.layer), per_head ? static_cast<int>(h.head) : 0) = static_cast<float>(h.pearson);
    }
  }
  data.sequences = static_cast<int>(result.sequences);
  data.source = reads ? fasta : QString();
  data.model = description();
  return data;
}

}  // namespace performer::view
