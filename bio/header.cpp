#include "bio/header.h"

#include <cctype>
#include <charconv>
#include <vector>

namespace performer::bio {
namespace {

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

template <typename T>
T to_number(const std::string& s, T fallback) {
  T value{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && p == s.data() + s.size() ? value : fallback;
}

struct Field {
  std::string key;
  size_t key_start;    // where "KEY=" starts
  size_t value_start;  // just after '='
};

// KEY=value fields: KEY is letters only, preceded by a space. Values run until the next field.
std::vector<Field> find_fields(const std::string& text) {
  std::vector<Field> fields;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=' || i == 0) continue;
    size_t k = i;
    while (k > 0 && std::isalpha(static_cast<unsigned char>(text[k - 1]))) --k;
    if (k == i || (k > 0 && text[k - 1] != ' ')) continue;
    fields.push_back({text.substr(k, i - k), k, i + 1});
  }
  return fields;
}

}  // namespace

std::string to_string(HeaderKind kind) {
  switch (kind) {
    case HeaderKind::uniprotkb: return "uniprotkb";
    case HeaderKind::uniref: return "uniref";
    case HeaderKind::plain: return "plain";
  }
  return "?";
}

std::string_view header_id(std::string_view line) {
  if (!line.empty() && line[0] == '>') line.remove_prefix(1);
  return line.substr(0, line.find_first_of(" \t\r\n"));
}

namespace {

// db|ACCESSION|ENTRY_NAME with db sp or tr: the positions of the two bars, or npos.
std::pair<size_t, size_t> uniprot_bars(std::string_view id) {
  const size_t bar1 = id.find('|');
  const size_t bar2 = bar1 == std::string_view::npos ? bar1 : id.find('|', bar1 + 1);
  if (bar2 == std::string_view::npos || !(id.substr(0, bar1) == "sp" || id.substr(0, bar1) == "tr")) {
    return {std::string_view::npos, std::string_view::npos};
  }
  return {bar1, bar2};
}

bool is_uniref(std::string_view id) { return id.substr(0, 6) == "UniRef" && id.find('_') != std::string_view::npos; }

}  // namespace

std::string_view accession_of(std::string_view id) {
  if (const auto [bar1, bar2] = uniprot_bars(id); bar2 != std::string_view::npos) return id.substr(bar1 + 1, bar2 - bar1 - 1);
  if (is_uniref(id)) return id.substr(id.find('_') + 1);  // UniRef50_P00974
  return id;
}

Header parse_header_id(const std::string& line) {
  Header h;
  const std::string_view id = header_id(line);
  h.id = std::string(id);
  h.accession = std::string(accession_of(id));
  if (const auto [bar1, bar2] = uniprot_bars(id); bar2 != std::string_view::npos) {
    h.kind = HeaderKind::uniprotkb;
    h.database = std::string(id.substr(0, bar1));
    h.entry_name = std::string(id.substr(bar2 + 1));
  } else if (is_uniref(id)) {
    h.kind = HeaderKind::uniref;
    h.database = std::string(id.substr(0, id.find('_')));
  }
  return h;
}

Header parse_header(const std::string& line) {
  Header h = parse_header_id(line);
  std::string text = line;
  if (!text.empty() && text[0] == '>') text.erase(0, 1);
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) text.pop_back();
  const size_t space = text.find_first_of(" \t");
  h.description = space == std::string::npos ? "" : trim(text.substr(space + 1));

  const auto fields = find_fields(h.description);
  h.name = trim(h.description.substr(0, fields.empty() ? std::string::npos : fields.front().key_start));
  auto value = [&](size_t i) {
    const size_t end = i + 1 < fields.size() ? fields[i + 1].key_start : h.description.size();
    return trim(h.description.substr(fields[i].value_start, end - fields[i].value_start));
  };
  if (h.kind == HeaderKind::uniprotkb) {
    for (size_t i = 0; i < fields.size(); ++i) {
      const auto& key = fields[i].key;
      if (key == "OS") h.organism = value(i);
      else if (key == "OX") h.taxid = to_number<int64_t>(value(i), -1);
      else if (key == "GN") h.gene = value(i);
      else if (key == "PE") h.protein_existence = to_number<int>(value(i), -1);
      else if (key == "SV") h.sequence_version = to_number<int>(value(i), -1);
    }
  } else if (h.kind == HeaderKind::uniref) {
    for (size_t i = 0; i < fields.size(); ++i) {
      const auto& key = fields[i].key;
      if (key == "n") h.members = to_number<int64_t>(value(i), -1);
      else if (key == "Tax") h.organism = value(i);
      else if (key == "TaxID") h.taxid = to_number<int64_t>(value(i), -1);
      else if (key == "RepID") h.representative = value(i);
    }
  } else {
    h.name = h.description;
  }
  return h;
}

}  // namespace performer::bio
