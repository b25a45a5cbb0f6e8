#pragma once
// Aligned text tables for the terminal and the same rows as CSV.
#include <string>
#include <vector>

namespace performer::cli {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::string text() const;  // columns padded, numbers right-aligned
  std::string csv() const;   // RFC 4180 quoting where needed
  // Writes csv() to path; throws performer::InputError naming the path when it cannot.
  void write_csv(const std::string& path) const;
};

std::string format_number(double value, int decimals);  // "nan" shown as "-"

}  // namespace performer::cli
