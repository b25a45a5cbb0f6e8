#pragma once
// The token layout every model reads, in one place: the special token ids (the vocabulary of bio/
// puts the residues after them), the label that means "no loss here", and the framing of a sequence.
#include <cstdint>
#include <vector>

namespace performer::core {

struct SpecialTokens {
  static constexpr int64_t pad = 0;   // padding, never predicted
  static constexpr int64_t cls = 1;   // beginning of sequence (bos / cls)
  static constexpr int64_t eos = 2;   // end of sequence; also the separator in concatenated windows
  static constexpr int64_t mask = 3;  // masked-LM mask
  static constexpr int64_t unk = 4;   // unknown (only produced on request, never from letters)
  static constexpr int64_t count = 5; // residues start here
};

// Target of a position without a label (LibTorch's cross-entropy ignore_index).
constexpr int64_t kIgnoreIndex = -100;

// <cls> residues <eos>: the row every model reads.
inline std::vector<int64_t> framed_tokens(const std::vector<int64_t>& residues) {
  std::vector<int64_t> row;
  row.reserve(residues.size() + 2);
  row.push_back(SpecialTokens::cls);
  row.insert(row.end(), residues.begin(), residues.end());
  row.push_back(SpecialTokens::eos);
  return row;
}

}  // namespace performer::core
