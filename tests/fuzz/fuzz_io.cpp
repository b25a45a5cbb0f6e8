// libFuzzer target: what the io layer reads. The first byte picks the reader: JSON (strict, then a
// model-config-like walk), a delimited row (CSV/TSV, whose written form must read back the same), or
// a .npy file. Any input may be rejected with InputError; nothing else may happen.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/errors.h"
#include "io/file.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace performer;
  try {
    switch (data[0] % 3) {
      case 0: {
        const io::Json json = io::parse_json(text, "fuzz");
        (void)io::to_line(json);
        break;
      }
      case 1: {
        for (char separator : {',', '\t'}) {
          const auto cells = io::split_delimited(text, separator);
          std::string row = io::delimited_row(cells, separator);
          row.pop_back();  // the line break
          if (text.find('\n') == std::string::npos && text.find('\r') == std::string::npos &&
              io::split_delimited(row, separator) != cells) {
            std::abort();  // written and read back must agree
          }
        }
        break;
      }
      default: {
        static const std::string path = "/tmp/performer-fuzz-" + std::to_string(::getpid()) + ".npy";
        io::write_file(path, text);
        const io::NpyArray array = io::read_npy(path);
        int64_t elements = 1;
        for (int64_t n : array.shape) elements *= n;
        if (static_cast<int64_t>(array.data.size()) != elements * io::npy_item_size(array.descr)) std::abort();
        break;
      }
    }
  } catch (const InputError&) {
  }
  return 0;
}
