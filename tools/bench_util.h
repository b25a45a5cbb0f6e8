#pragma once
// Pieces the benchmarks share: medians and ratios within one run.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <vector>

#include "core/attention.h"

namespace performer::tools {

double median(std::vector<double> values);  // NaN for none

// Sets row.vs_exact and row.vs_dummy of rows[first..] from the medians of exact and dummy measured
// in the same group, then reports each row.
template <typename Row>
void fill_ratios(std::vector<Row>& rows, size_t first, const std::map<core::AttentionKind, double>& medians,
                 const std::function<void(const Row&)>& progress) {
  for (size_t i = first; i < rows.size(); ++i) {
    auto ratio = [&](core::AttentionKind base) {
      auto it = medians.find(base);
      return it == medians.end() ? std::numeric_limits<double>::quiet_NaN() : rows[i].median_ms / it->second;
    };
    rows[i].vs_exact = ratio(core::AttentionKind::exact);
    rows[i].vs_dummy = ratio(core::AttentionKind::dummy);
    if (progress) progress(rows[i]);
  }
}

}  // namespace performer::tools
