#include "bio/mutation.h"

#include <cctype>
#include <set>

#include "bio/vocabulary.h"
#include "core/errors.h"

namespace performer::bio {

std::vector<Mutation> parse_mutations(const std::string& text) {
  std::vector<Mutation> out;
  std::set<int64_t> positions;
  size_t i = 0;
  auto bad = [&](const std::string& why) { return InputError("mutation " + printable_text(text, 40) + ": " + why); };
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ':' && text[i] != ',' && text[i] != ';') ++i;
    std::string one = text.substr(start, i - start);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.back()))) one.pop_back();
    if (i < text.size()) ++i;  // separator
    if (one.size() < 3) throw bad("expected e.g. A24C, got " + printable_text(one));
    Mutation m;
    m.wild_type = static_cast<char>(std::toupper(static_cast<unsigned char>(one.front())));
    m.mutant = static_cast<char>(std::toupper(static_cast<unsigned char>(one.back())));
    const std::string digits = one.substr(1, one.size() - 2);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("expected e.g. A24C, got " + printable_text(one));
    }
    if (Vocabulary::residue_id(m.wild_type) < 0 || Vocabulary::residue_id(m.mutant) < 0) {
      throw bad("'" + one + "' uses a letter that is not an amino acid");
    }
    if (digits.size() > 12) throw bad("position " + digits + " is too large");
    m.position = std::stoll(digits);
    if (!positions.insert(m.position).second) throw bad("position " + digits + " is mutated twice");
    out.push_back(m);
  }
  if (out.empty()) throw bad("no mutation given");
  const size_t last = text.find_last_not_of(" \t");
  if (text[last] == ':' || text[last] == ',' || text[last] == ';') throw bad("ends with a separator, not a mutation");
  return out;
}

std::string apply_mutations(const std::string& sequence, const std::vector<Mutation>& mutations,
                            int64_t offset) {
  std::string out = sequence;
  for (const Mutation& m : mutations) {
    const int64_t index = m.position - offset;
    if (index < 0 || index >= static_cast<int64_t>(sequence.size())) {
      throw InputError("mutation " + to_string(m) + ": position " + std::to_string(m.position) +
                       " is outside the sequence (" + std::to_string(offset) + ".." +
                       std::to_string(offset + static_cast<int64_t>(sequence.size()) - 1) + ")");
    }
    const char actual = static_cast<char>(std::toupper(static_cast<unsigned char>(sequence[index])));
    if (actual != m.wild_type) {
      throw InputError("mutation " + to_string(m) + ": the sequence has " + std::string(1, actual) +
                       " at position " + std::to_string(m.position) + ", not " +
                       std::string(1, m.wild_type),
                       "offset");
    }
    out[index] = m.mutant;
  }
  return out;
}

std::string to_string(const Mutation& m) {
  return std::string(1, m.wild_type) + std::to_string(m.position) + std::string(1, m.mutant);
}

}  // namespace performer::bio
