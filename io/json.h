#pragma once
// JSON in and out, on nlohmann-json: the model config, the training log, `evaluate` and
// `attention.json`. Strings are escaped (paths, FASTA ids), numbers that are not finite are written
// as null, and parsing is strict (nothing may follow the value).
#include <nlohmann/json.hpp>

#include <string>

namespace performer::io {

using Json = nlohmann::ordered_json;  // keys in the order written

// Parses text; InputError "<what>: <parser's message>" for anything that is not one JSON value.
Json parse_json(const std::string& text, const std::string& what);

// One line, no spaces after separators: a JSON-lines record. Invalid UTF-8 in strings is replaced
// (U+FFFD) rather than failing the write.
std::string to_line(const Json& value);

// Indented (2 spaces), for files a user reads.
std::string to_text(const Json& value);

// A number for a JSON document: value rounded to `digits` significant digits, or null when not finite.
Json rounded(double value, int digits = 7);

}  // namespace performer::io
