#include "io/table.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "io/file.h"

namespace performer::io {
namespace {

bool numeric(const std::string& s) {
  return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.');
}

std::string quote(const std::string& cell, char separator) {
  if (cell.find_first_of(std::string{separator, '"', '\n', '\r'}) == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string delimited(const Table& table, char separator) {
  std::string out = delimited_row(table.header, separator);
  for (const auto& row : table.rows) out += delimited_row(row, separator);
  return out;
}

}  // namespace

std::string delimited_row(const std::vector<std::string>& cells, char separator) {
  std::string out;
  for (size_t c = 0; c < cells.size(); ++c) {
    if (c > 0) out += separator;
    out += quote(cells[c], separator);
  }
  out += '\n';
  return out;
}

std::string Table::text() const {
  auto shown = [](const std::string& cell) { return cell.empty() ? std::string("-") : cell; };
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], shown(row[c]).size());
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      const std::string cell = shown(cells[c]);
      const std::string pad(width[c] - cell.size(), ' ');
      out << (c ? "  " : "") << (numeric(cell) ? pad + cell : cell + pad);
    }
    out << "\n";
  };
  line(header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows) line(row);
  return out.str();
}

std::string Table::csv() const { return delimited(*this, ','); }

std::string Table::tsv() const { return delimited(*this, '\t'); }

void Table::write_csv(const std::string& path) const { write_file(path, csv()); }

std::vector<std::string> split_delimited(const std::string& line, char separator) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == separator && !quoted) {
      cells.push_back(cell);
      cell.clear();
    } else if (!(c == '\r' && i + 1 == line.size())) {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

std::string format_number(double value, int decimals) {
  if (std::isnan(value)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace performer::io
