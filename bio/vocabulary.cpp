#include "bio/vocabulary.h"

#include <cctype>

#include "core/errors.h"

namespace performer::bio {
namespace {

std::array<int32_t, 256> make_table() {
  std::array<int32_t, 256> table;
  table.fill(-1);
  for (size_t i = 0; i < Vocabulary::kResidues.size(); ++i) {
    const char c = Vocabulary::kResidues[i];
    table[static_cast<unsigned char>(c)] = Vocabulary::kFirstResidue + static_cast<int32_t>(i);
    table[static_cast<unsigned char>(std::tolower(c))] = Vocabulary::kFirstResidue + static_cast<int32_t>(i);
  }
  return table;
}

}  // namespace

std::string printable_text(const std::string& text, size_t max_chars) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (std::isprint(u)) {
      out += text[i];
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out + (text.size() > max_chars ? "...'" : "'");
}

std::string printable_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isprint(u)) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", u);
  return buf;
}

const std::array<int32_t, 256> Vocabulary::kTable = make_table();

char Vocabulary::letter(int32_t id) {
  if (id >= kFirstResidue && id < kSize) return kResidues[id - kFirstResidue];
  return '?';
}

std::string Vocabulary::token_name(int32_t id) {
  switch (id) {
    case kPad: return "<pad>";
    case kCls: return "<cls>";
    case kEos: return "<eos>";
    case kMask: return "<mask>";
    case kUnk: return "<unk>";
    default: return std::string(1, letter(id));
  }
}

bool Vocabulary::encode(std::string_view sequence, UnknownPolicy policy, std::vector<int32_t>& out,
                        const std::string& where) {
  const size_t start = out.size();
  out.resize(start + sequence.size());
  int32_t* dst = out.data() + start;
  for (size_t i = 0; i < sequence.size(); ++i) {
    const int32_t id = kTable[static_cast<unsigned char>(sequence[i])];
    if (id >= 0) {
      dst[i] = id;
      continue;
    }
    switch (policy) {
      case UnknownPolicy::x:
        dst[i] = kFirstResidue + 20;  // X
        break;
      case UnknownPolicy::skip:
        out.resize(start);
        return false;
      case UnknownPolicy::error:
        out.resize(start);
        throw InputError((where.empty() ? std::string() : where + ": ") + "unexpected character " +
                         printable_char(sequence[i]) + " at position " + std::to_string(i + 1),
                         "unknown_policy");
    }
  }
  return true;
}

std::vector<int64_t> residue_tokens(std::string_view sequence, UnknownPolicy policy, const std::string& where) {
  std::vector<int32_t> ids;
  if (!Vocabulary::encode(sequence, policy, ids, where)) return {};
  return {ids.begin(), ids.end()};
}

}  // namespace performer::bio
