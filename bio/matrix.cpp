#include "bio/matrix.h"

#include <seqan3/alignment/scoring/aminoacid_scoring_scheme.hpp>
#include <seqan3/alphabet/aminoacid/aa27.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bio/vocabulary.h"
#include "core/errors.h"

namespace performer::bio {

double SubstitutionMatrix::score(char a, char b) const {
  const size_t i = letters.find(static_cast<char>(std::toupper(static_cast<unsigned char>(a))));
  const size_t j = letters.find(static_cast<char>(std::toupper(static_cast<unsigned char>(b))));
  if (i == std::string::npos || j == std::string::npos) {
    throw InputError("matrix " + name + " has no score for '" + std::string(1, a) + "', '" +
                     std::string(1, b) + "'");
  }
  return scores[i * size() + j];
}

SubstitutionMatrix SubstitutionMatrix::restricted(std::string_view order) const {
  SubstitutionMatrix out{name, std::string(order), {}};
  out.scores.reserve(order.size() * order.size());
  for (char a : order)
    for (char b : order) out.scores.push_back(score(a, b));
  return out;
}

SubstitutionMatrix builtin_matrix(const std::string& name) {
  static const std::map<std::string, seqan3::aminoacid_similarity_matrix> known = {
      {"blosum30", seqan3::aminoacid_similarity_matrix::blosum30},
      {"blosum45", seqan3::aminoacid_similarity_matrix::blosum45},
      {"blosum62", seqan3::aminoacid_similarity_matrix::blosum62},
      {"blosum80", seqan3::aminoacid_similarity_matrix::blosum80},
  };
  auto it = known.find(name);
  if (it == known.end()) {
    throw ConfigError("unknown built-in matrix '" + name + "' (blosum30, blosum45, blosum62, blosum80, or a file)");
  }
  seqan3::aminoacid_scoring_scheme<int8_t> scheme{it->second};
  SubstitutionMatrix m{name, "ARNDCQEGHILKMFPSTWYVBZX", {}};
  for (char a : m.letters) {
    for (char b : m.letters) {
      m.scores.push_back(scheme.score(seqan3::aa27{}.assign_char(a), seqan3::aa27{}.assign_char(b)));
    }
  }
  return m;
}

SubstitutionMatrix read_ncbi_matrix(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError("'" + path + "' is a directory, not a matrix file");
  std::ifstream in(path);
  if (!in) throw InputError("cannot open matrix file '" + path + "'");
  SubstitutionMatrix m{std::filesystem::path(path).filename().string(), "", {}};
  std::string line, rows;
  int number = 0;
  auto bad = [&](const std::string& why) {
    return InputError("'" + path + "' line " + std::to_string(number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream fields(line);
    if (m.letters.empty()) {
      std::string letter;
      while (fields >> letter) {
        if (letter.size() != 1) throw bad("expected single-letter column names, got " + printable_text(letter));
        m.letters += static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])));
      }
      continue;
    }
    std::string letter;
    fields >> letter;
    if (letter.size() != 1) throw bad("expected a row letter, got " + printable_text(letter));
    rows += static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])));
    for (size_t c = 0; c < m.letters.size(); ++c) {
      double value;
      if (!(fields >> value)) throw bad("expected " + std::to_string(m.letters.size()) + " scores");
      m.scores.push_back(value);
    }
    std::string extra;
    if (fields >> extra) throw bad("more scores than column letters");
  }
  if (m.letters.empty()) throw InputError("'" + path + "' holds no matrix");
  if (rows != m.letters) throw InputError("'" + path + "': row letters " + printable_text(rows, 40) + " do not match columns " +
                                         printable_text(m.letters, 40));
  return m;
}

SubstitutionMatrix load_matrix(const std::string& name_or_path) {
  if (name_or_path.rfind("blosum", 0) == 0 && name_or_path.find('/') == std::string::npos &&
      name_or_path.find('.') == std::string::npos) {
    return builtin_matrix(name_or_path);
  }
  return read_ncbi_matrix(name_or_path);
}

}  // namespace performer::bio
