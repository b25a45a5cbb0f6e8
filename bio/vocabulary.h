#pragma once
// The fixed, versioned protein vocabulary: specials, the 20 standard amino acids, then X B Z U O.
// Its version is stored in every checkpoint; a model only reads tokens of the version it was trained on.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "core/tokens.h"

namespace performer::bio {

enum class UnknownPolicy {
  error,  // throw InputError naming the record and position (default)
  x,      // map the character to X
  skip,   // drop the whole record (the reader counts it)
};

// A character for a message: 'A' when printable, else "byte 0x1F".
std::string printable_char(char c);
// Text from a file for a message, quoted: bytes that are not printable as \xNN, at most max_chars
// shown (then "..."), so that a binary file's bytes never reach the terminal.
std::string printable_text(const std::string& text, size_t max_chars = 24);

constexpr core::NameList<UnknownPolicy, 3> names(UnknownPolicy) {
  return {{{UnknownPolicy::x, "x"}, {UnknownPolicy::skip, "skip"}, {UnknownPolicy::error, "error"}}};
}
inline UnknownPolicy parse_unknown_policy(const std::string& name) {  // ConfigError for other names
  return core::parse_name<UnknownPolicy>(name, "policy for unknown residues");
}
using core::to_string;

class Vocabulary {
 public:
  static constexpr std::string_view kVersion = "performer-protein-v1";
  // The specials are core's (core/tokens.h); residues follow them.
  static constexpr int32_t kPad = core::SpecialTokens::pad;
  static constexpr int32_t kCls = core::SpecialTokens::cls;
  static constexpr int32_t kEos = core::SpecialTokens::eos;
  static constexpr int32_t kMask = core::SpecialTokens::mask;
  static constexpr int32_t kUnk = core::SpecialTokens::unk;
  static constexpr int32_t kFirstResidue = core::SpecialTokens::count;
  static constexpr std::string_view kResidues = "ACDEFGHIKLMNPQRSTVWYXBZUO";  // ids 5..29
  static constexpr int32_t kSize = kFirstResidue + static_cast<int32_t>(kResidues.size());  // 30
  static constexpr int32_t kStandard = 20;  // the first 20 residues are the standard amino acids

  // Token id of a residue letter (either case), or -1 for anything else.
  static int32_t residue_id(char c) { return kTable[static_cast<unsigned char>(c)]; }
  static char letter(int32_t id);             // residue letter, or '<'-style name's first char for specials
  static std::string token_name(int32_t id);  // "A", "<pad>", "<cls>", ...
  static bool is_special(int32_t id) { return id < kFirstResidue; }
  static bool is_standard(int32_t id) { return id >= kFirstResidue && id < kFirstResidue + kStandard; }

  // Tokens of a sequence without specials. Characters that are not residues follow the policy:
  // error throws InputError(where + position + character); x maps to X; skip returns false.
  // Returns true when the sequence was encoded (always, except skip on an unknown character).
  static bool encode(std::string_view sequence, UnknownPolicy policy, std::vector<int32_t>& out,
                     const std::string& where = "");

 private:
  static const std::array<int32_t, 256> kTable;
};

// Residue token ids of a sequence, as Vocabulary::encode; empty when the policy is skip and the
// sequence has an unknown character.
std::vector<int64_t> residue_tokens(std::string_view sequence, UnknownPolicy policy, const std::string& where = "");

using core::framed_tokens;  // <cls> residues <eos>

}  // namespace performer::bio
