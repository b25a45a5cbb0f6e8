#pragma once
// Tables: aligned text for the terminal, CSV and TSV for pandas and spreadsheets, and a reader for
// delimited files (the mutation files of `performer variants`). One place for quoting both ways.
#include <string>
#include <vector>

namespace performer::io {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // Columns padded, numbers right-aligned; an empty cell (a missing value) is shown as "-".
  std::string text() const;
  // RFC 4180: cells with the separator, a quote or a line break are quoted, quotes doubled.
  std::string csv() const;
  // Tab-separated, the same quoting rule with tabs.
  std::string tsv() const;
  // csv() to a file written whole or not at all; "-" is standard output.
  void write_csv(const std::string& path) const;
};

// One row of delimited text, quoted as Table::csv()/tsv() quote, with its line break.
std::string delimited_row(const std::vector<std::string>& cells, char separator);

// One delimited line as written by Table::csv()/tsv() (or a spreadsheet): quoted cells may hold the
// separator and doubled quotes; a trailing carriage return is dropped.
std::vector<std::string> split_delimited(const std::string& line, char separator);

// A number with `decimals` decimals; "" (missing) for NaN.
std::string format_number(double value, int decimals);

}  // namespace performer::io
