#include "bio/fasta.h"

#include <seqan3/io/sequence_file/input.hpp>

#include <optional>

#include "core/errors.h"

namespace performer::bio {
namespace {

// Residue letters are checked by bio::Vocabulary with the user's policy, so seqan3 reads plain chars.
struct RawTraits : seqan3::sequence_file_input_default_traits_aa {
  using sequence_alphabet = char;
  using sequence_legal_alphabet = char;
  template <typename alphabet>
  using sequence_container = std::basic_string<alphabet>;
};

using File = seqan3::sequence_file_input<RawTraits, seqan3::fields<seqan3::field::id, seqan3::field::seq>,
                                         seqan3::type_list<seqan3::format_fasta>>;

std::string first_word(const std::string& header) { return header.substr(0, header.find_first_of(" \t")); }

}  // namespace

struct FastaReader::Impl {
  InputStream input;
  std::optional<File> file;
  std::optional<decltype(std::declval<File&>().begin())> it;
  uint64_t returned = 0, seen = 0, empty = 0;
  std::string last_id;

  explicit Impl(const std::string& path) : input(path) {}

  std::string name() const { return input.path() == "-" ? "stdin" : input.path(); }

  [[noreturn]] void rethrow(const std::exception& e) {
    input.check();  // a decompression failure explains whatever the parser saw
    std::string where = "'" + name() + "': record " + std::to_string(seen + 1);
    if (!last_id.empty()) where += " (after " + last_id + ")";
    std::string what = e.what();
    if (what.find("Expected to be on beginning of ID") != std::string::npos) {
      // seqan3 says which character it found ("... evaluated to false on 'P'"); the rest is its grammar.
      const std::string marker = "evaluated to false on ";
      const size_t at = what.find(marker);
      what = "not FASTA: expected a header line starting with '>'" +
             (at == std::string::npos ? std::string() : ", found " + what.substr(at + marker.size()));
    } else if (seen == 0) {
      what = "not FASTA: expected a header line starting with '>' (" + what + ")";
    }
    throw InputError(where + ": " + what);
  }
};

FastaReader::FastaReader(const std::string& path) : impl_(std::make_unique<Impl>(path)) {}
FastaReader::~FastaReader() = default;
FastaReader::FastaReader(FastaReader&&) noexcept = default;

bool FastaReader::next(SequenceRecord& record) {
  Impl& s = *impl_;
  while (true) {
    try {
      if (!s.file) {
        s.file.emplace(s.input.stream(), seqan3::format_fasta{});
        s.it.emplace(s.file->begin());
      } else {
        ++*s.it;
      }
      if (*s.it == s.file->end()) {
        s.input.check();
        if (s.seen == 0) throw InputError("'" + s.name() + "' holds no FASTA records (empty input)");
        return false;
      }
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& e) {
      s.rethrow(e);
    }
    ++s.seen;
    auto& r = **s.it;
    record.header = std::move(r.id());
    while (!record.header.empty() && (record.header.back() == '\r' || record.header.back() == ' ')) {
      record.header.pop_back();
    }
    record.sequence = std::move(r.sequence());
    if (!record.sequence.empty() && record.sequence.back() == '*') record.sequence.pop_back();
    record.index = s.seen;
    s.last_id = first_word(record.header);
    if (record.sequence.empty()) {
      ++s.empty;
      continue;
    }
    ++s.returned;
    return true;
  }
}

const std::string& FastaReader::path() const { return impl_->input.path(); }

std::string FastaReader::where(const SequenceRecord& record) const {
  return impl_->name() + ": record " + std::to_string(record.index) + " (" + first_word(record.header) + ")";
}

uint64_t FastaReader::records() const { return impl_->returned; }
uint64_t FastaReader::empty_skipped() const { return impl_->empty; }
Compression FastaReader::compression() const { return impl_->input.compression(); }
uint64_t FastaReader::compressed_bytes_read() const { return impl_->input.compressed_bytes_read(); }
uint64_t FastaReader::bytes_read() const { return impl_->input.bytes_read(); }
uint32_t FastaReader::raw_crc32c() const { return impl_->input.raw_crc32c(); }

}  // namespace performer::bio
