#include "cli/options.h"

#include "core/errors.h"
#include "core/settings.h"
#include "io/file.h"

namespace performer::cli {

CLI::Option* add_device_option(CLI::App& app, std::string& device) {
  return app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
}

CLI::Option* add_unknown_option(CLI::App& app, bio::UnknownPolicy& policy) {
  return add_choice(app, "--unknown", policy,
                    "characters that are not residues: read as X, skip the record, or stop with an error");
}

CLI::Option* add_precision_option(CLI::App& app, std::string& precision, const std::string& help) {
  return add_optional_choice<core::Precision>(app, "--precision", precision, help);
}

void refuse_overwriting(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs) {
  if (output.empty()) return;
  for (const auto& input : inputs) {
    if (!input.empty() && io::same_file(output, input)) {
      throw ConfigError(flag + " '" + output + "' is the input file '" + input + "': choose another output");
    }
  }
}

CLI::Option* positive(CLI::Option* option) { return option->check(CLI::PositiveNumber); }

CLI::Option* non_negative(CLI::Option* option) { return option->check(CLI::NonNegativeNumber); }

}  // namespace performer::cli
