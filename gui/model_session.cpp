#include "gui/model_session.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <thread>

#include "bio/fasta.h"
#include "bio/matrix.h"
#include "bio/vocabulary.h"
#include "core/analysis.h"
#include "core/checkpoint.h"
#include "core/errors.h"

namespace performer::view {
namespace {

constexpr std::string_view kOrder = "ACDEFGHIKLMNPQRSTVWY";  // the 20 standard residues, BLOSUM's rows here

// <cls> residues <eos>
std::vector<int64_t> framed(const std::vector<int32_t>& residues) {
  std::vector<int64_t> tokens = {bio::Vocabulary::kCls};
  tokens.insert(tokens.end(), residues.begin(), residues.end());
  tokens.push_back(bio::Vocabulary::kEos);
  return tokens;
}

Matrix to_matrix(const at::Tensor& t) {  // [rows, cols] float
  at::Tensor c = t.to(at::kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return Matrix(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), std::vector<float>(p, p + c.numel()));
}

}  // namespace

void use_all_cores() { at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))); }

struct LoadedModel::Impl {
  QString path;
  core::Checkpoint checkpoint;
};

LoadedModel::LoadedModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadedModel::~LoadedModel() = default;

std::shared_ptr<LoadedModel> LoadedModel::load(const QString& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  try {
    impl->checkpoint = core::load_checkpoint(path.toStdString(), std::string(bio::Vocabulary::kVersion));
  } catch (const c10::Error&) {
    // Weights that do not fit the config: a file from another program or another version.
    throw InputError("'" + path.toStdString() + "' is not a performer checkpoint (its weights do not match its config)");
  }
  impl->checkpoint.model->eval();
  return std::shared_ptr<LoadedModel>(new LoadedModel(std::move(impl)));
}

QString LoadedModel::path() const { return impl_->path; }

QString LoadedModel::description() const {
  const core::ModelConfig& c = impl_->checkpoint.config;
  return QString("%1 · %2 · %3 · step %4")
      .arg(QString::fromStdString(c.preset), QString::fromStdString(core::to_string(c.attention)),
           QString::fromStdString(c.objective))
      .arg(impl_->checkpoint.state.step);
}

int LoadedModel::layers() const { return static_cast<int>(impl_->checkpoint.config.layers); }
int LoadedModel::heads() const { return static_cast<int>(impl_->checkpoint.config.heads); }

AttentionData LoadedModel::attention(const SequenceInput& sequence, const JobControl& control) {
  std::lock_guard lock(busy_);
  std::vector<int32_t> residues;
  bio::Vocabulary::encode(sequence.residues.toStdString(), bio::UnknownPolicy::error, residues,
                          sequence.id.toStdString());
  const int n = static_cast<int>(residues.size());
  AttentionData data;
  data.id = sequence.id;
  for (int32_t t : residues) data.residues += QChar::fromLatin1(bio::Vocabulary::letter(t));
  data.model = description();
  data.layers = layers();
  data.heads = heads();

  control.check();
  control.report(0, data.layers * data.heads, QString("attention maps of %1 residues").arg(n));
  at::Tensor maps = core::attention_maps(impl_->checkpoint.model, framed(residues));  // [layers, heads, n+2, n+2]
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

SimilarityData LoadedModel::similarity(const QString& fasta, int n, const JobControl& control) {
  std::lock_guard lock(busy_);
  const bio::SubstitutionMatrix reference = bio::builtin_matrix("blosum62").restricted(kOrder);
  const int64_t types = static_cast<int64_t>(kOrder.size());
  at::Tensor mass = at::zeros({types, types}, at::kDouble);  // [query type, key type]
  at::Tensor key_counts = at::zeros({types}, at::kDouble);   // [types]
  bio::FastaReader reader(fasta.toStdString());
  bio::SequenceRecord record;
  int used = 0;
  while (used < n && reader.next(record)) {
    control.check();
    std::vector<int32_t> residues;
    bio::Vocabulary::encode(record.sequence, bio::UnknownPolicy::x, residues, reader.where(record));
    std::vector<int64_t> kinds = {-1};  // <cls>
    for (int32_t t : residues) {
      const size_t k = kOrder.find(bio::Vocabulary::letter(t));
      kinds.push_back(k == std::string_view::npos ? -1 : static_cast<int64_t>(k));
    }
    kinds.push_back(-1);  // <eos>
    core::accumulate_type_attention(impl_->checkpoint.model, framed(residues), kinds, types, mass, key_counts);
    ++used;
    control.report(used, n, QString("sequence %1 of %2").arg(used).arg(n));
  }
  if (used == 0) throw InputError("'" + fasta.toStdString() + "' holds no sequence to analyse");
  at::Tensor similarity = core::similarity_from_mass(mass, key_counts);              // [20, 20]
  at::Tensor blosum = at::tensor(reference.scores, at::kDouble).view({types, types});  // [20, 20]
  const auto [pearson, spearman] = core::offdiagonal_correlations(similarity, blosum);

  SimilarityData data;
  data.order = QString::fromLatin1(kOrder.data(), static_cast<qsizetype>(kOrder.size()));
  data.attention = to_matrix(similarity);
  data.reference = to_matrix(blosum);
  data.reference_name = QString::fromStdString(reference.name);
  data.pearson = pearson;
  data.spearman = spearman;
  data.sequences = used;
  data.source = fasta;
  data.model = description();
  return data;
}

}  // namespace performer::view
