#pragma once
// Options declared once for every command that has them, and options whose value is one of a fixed set
// of names, checked by CLI11: a value outside the set is a usage error (exit 2), like any other.
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "bio/vocabulary.h"
#include "core/names.h"

namespace performer::cli {

// "--flag NAME": value is one of E's names (core/names.h); help lists them and the default. The option
// holds the name and sets value from it (CLI11 would otherwise try to print and parse the enum itself).
template <core::Named E>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, E& value, const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag, [&value](const std::string& name) { value = core::parse_name<E>(name, "value"); },
          help + ": " + core::name_choices(core::all_names<E>()))
      ->check(CLI::IsMember(core::all_names<E>()))
      ->default_str(core::to_string(value));
}

// "--flag a,b,c": a list of E's names.
template <core::Named E>
CLI::Option* add_choices(CLI::App& app, const std::string& flag, std::vector<E>& values, const std::string& help) {
  std::string shown;
  for (E v : values) shown += (shown.empty() ? "" : ",") + core::to_string(v);
  return app
      .add_option_function<std::vector<std::string>>(
          flag,
          [&values](const std::vector<std::string>& chosen) {
            values.clear();
            for (const auto& name : chosen) values.push_back(core::parse_name<E>(name, "value"));
          },
          help + ", from: " + core::name_choices(core::all_names<E>()))
      ->delimiter(',')
      ->check(CLI::IsMember(core::all_names<E>()))
      ->default_str(shown);
}

// "--flag NAME" that may be left out (the model's own setting then applies): a string checked
// against E's names; parse it with core::parse_name<E> when not empty.
template <core::Named E>
CLI::Option* add_optional_choice(CLI::App& app, const std::string& flag, std::string& value, const std::string& help) {
  return app.add_option(flag, value, help + ": " + core::name_choices(core::all_names<E>()))
      ->check(CLI::IsMember(core::all_names<E>()));
}

// --device cpu|cuda
CLI::Option* add_device_option(CLI::App& app, std::string& device);

// --unknown x|skip|error: what to do with characters that are not residues.
CLI::Option* add_unknown_option(CLI::App& app, bio::UnknownPolicy& policy);

// --precision fp32|bf16 overriding the model's (evaluate, the benchmarks).
CLI::Option* add_precision_option(CLI::App& app, std::string& precision, const std::string& help);

// ConfigError when the output of option `flag` is one of inputs (the same file, by inode): an output
// must never overwrite what the command reads. Empty names are ignored.
void refuse_overwriting(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs);

// A count that must be at least 1 / at least 0 (usage error otherwise).
CLI::Option* positive(CLI::Option* option);
CLI::Option* non_negative(CLI::Option* option);

}  // namespace performer::cli
