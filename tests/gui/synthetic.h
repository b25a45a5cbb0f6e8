#pragma once
// Attention data without a model, for drawing and widget tests.
#include <memory>

#include "gui/view_data.h"

namespace performer::view {

// map (l, h) holds l + h / 10 + i * j / L^2: distinct per map, smallest at (0, 0) of layer 0, head 0.
inline std::shared_ptr<const AttentionData> synthetic_attention(int layers, int heads, int length) {
  auto data = std::make_shared<AttentionData>();
  data->id = "TEST_PROT";
  data->model = "synthetic";
  data->layers = layers;
  data->heads = heads;
  for (int k = 0; k < length; ++k) data->residues += QString("ACDEFGHIKLMNPQRSTVWY")[k % 20];
  for (int l = 0; l < layers; ++l) {
    for (int h = 0; h < heads; ++h) {
      Matrix m(length, length);
      for (int i = 0; i < length; ++i)
        for (int j = 0; j < length; ++j) m.at(i, j) = l + h / 10.0f + float(i * j) / (length * length);
      data->maps.push_back(std::move(m));
    }
  }
  return data;
}

}  // namespace performer::view
