#include "bio/input_stream.h"

#include <bzlib.h>
#include <sys/stat.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <streambuf>
#include <vector>

#include "core/errors.h"
#include "io/checksum.h"

namespace performer::bio {

std::string to_string(Compression compression) {
  switch (compression) {
    case Compression::none: return "plain";
    case Compression::gzip: return "gzip";
    case Compression::bzip2: return "bzip2";
  }
  return "?";
}

// A streambuf over a FILE*, inflating gzip or bzip2 on a thread of its own, a few blocks ahead of the
// parser, so that parsing costs no time beyond the decompression. Errors are kept, not thrown through
// the parser: the stream just ends, and InputStream::check() reports why.
class InputStream::Buffer : public std::streambuf {
 public:
  static constexpr size_t kBlock = 1 << 20;

  Buffer(std::FILE* file, bool owns, std::string path)
      : file_(file), owns_(owns), path_(std::move(path)), raw_(kBlock), out_(kBlock) {
    fill_raw();
    const auto* b = reinterpret_cast<const unsigned char*>(raw_.data());
    if (raw_end_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
      compression_ = Compression::gzip;
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, 15 + 32) != Z_OK) fail("cannot start gzip decompression");
    } else if (raw_end_ >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') {
      compression_ = Compression::bzip2;
      std::memset(&bz_, 0, sizeof bz_);
      if (BZ2_bzDecompressInit(&bz_, 0, 0) != BZ_OK) fail("cannot start bzip2 decompression");
    }
    setg(out_.data(), out_.data(), out_.data());
    // Reading (and decompressing) runs ahead on its own thread, so that the parser's thread only parses;
    // except a plain pipe or terminal, where a read may block for as long as the writer likes (and a
    // reader that stops early must not wait for it).
    struct stat info {};
    ahead_ = compression_ != Compression::none || (::fstat(::fileno(file_), &info) == 0 && S_ISREG(info.st_mode));
    if (!error_.empty()) worker_done_ = true;
    else if (ahead_) worker_ = std::thread([this] { decompress_ahead(); });
  }

  ~Buffer() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (compression_ == Compression::gzip) inflateEnd(&z_);
    if (compression_ == Compression::bzip2) BZ2_bzDecompressEnd(&bz_);
    if (owns_ && file_) std::fclose(file_);
  }

  Compression compression() const { return compression_; }
  std::string error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }
  uint64_t consumed() const { return consumed_; }
  uint64_t produced() const { return produced_; }
  uint32_t crc() const { return crc_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    size_t n = 0;
    if (!ahead_) {
      if (!error_.empty() || finished_) return traits_type::eof();
      out_.resize(kBlock);
      n = next_plain(out_);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return !ready_.empty() || worker_done_; });
      if (ready_.empty()) return traits_type::eof();
      spare_.push_back(std::move(out_));
      out_ = std::move(ready_.front());
      ready_.pop_front();
      n = out_.size();
      changed_.notify_all();
    }
    produced_ += n;
    if (n == 0) return traits_type::eof();
    setg(out_.data(), out_.data(), out_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  void fill_raw() {
    raw_pos_ = 0;
    raw_end_ = std::fread(raw_.data(), 1, raw_.size(), file_);
    consumed_ += raw_end_;
    crc_ = io::crc32c(crc_, raw_.data(), raw_end_);
    if (raw_end_ == 0 && std::ferror(file_)) fail(std::string("read error: ") + std::strerror(errno));
  }

  void fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_.empty()) error_ = message;
  }

  // The decompression thread: keeps up to two blocks ready for underflow().
  void decompress_ahead() {
    while (true) {
      std::vector<char> block;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < 2; });
        if (stop_) return;
        if (!spare_.empty()) {
          block = std::move(spare_.back());
          spare_.pop_back();
        }
      }
      block.resize(kBlock);
      const size_t n = compression_ == Compression::none ? next_plain(block) : next_compressed(block);
      block.resize(n);
      std::lock_guard<std::mutex> lock(mutex_);
      if (n > 0) ready_.push_back(std::move(block));
      if (finished_ || !error_.empty()) worker_done_ = true;
      changed_.notify_all();
      if (worker_done_) return;
    }
  }

  // The next block of a file that is not compressed: what the first read left in raw_, then whole
  // blocks read straight into the output.
  size_t next_plain(std::vector<char>& out) {
    if (raw_pos_ < raw_end_) {
      const size_t n = raw_end_ - raw_pos_;
      std::memcpy(out.data(), raw_.data() + raw_pos_, n);
      raw_pos_ = raw_end_ = 0;
      return n;
    }
    const size_t n = std::fread(out.data(), 1, out.size(), file_);
    consumed_ += n;
    crc_ = io::crc32c(crc_, out.data(), n);
    if (n == 0) {
      if (std::ferror(file_)) fail(std::string("read error: ") + std::strerror(errno));
      finished_ = true;
    }
    return n;
  }

  // Decompresses until the output block is full or the data ends (or an error is recorded). Full
  // blocks matter: seqan3 peeks at the first bytes for magic numbers and puts them back, which only
  // works within one block.
  size_t next_compressed(std::vector<char>& out) {
    size_t produced = 0;
    while (produced < out.size()) {
      if (raw_pos_ == raw_end_) {
        fill_raw();
        if (raw_end_ == 0) {
          if (in_member_) fail(to_string(compression_) + " data ends early: the file is truncated");
          finished_ = true;
          return produced;
        }
      }
      const size_t avail_in = raw_end_ - raw_pos_;
      const size_t avail_out = out.size() - produced;
      size_t used_in = 0;
      bool member_end = false;
      if (compression_ == Compression::gzip) {
        z_.next_in = reinterpret_cast<Bytef*>(raw_.data() + raw_pos_);
        z_.avail_in = static_cast<uInt>(avail_in);
        z_.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z_.avail_out = static_cast<uInt>(avail_out);
        const int rc = inflate(&z_, Z_NO_FLUSH);
        used_in = avail_in - z_.avail_in;
        produced += avail_out - z_.avail_out;
        if (rc == Z_STREAM_END) member_end = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR) {
          fail(std::string("corrupt gzip data (") + (z_.msg ? z_.msg : "inflate failed") + ")");
          finished_ = true;
          return produced;
        }
      } else {
        bz_.next_in = raw_.data() + raw_pos_;
        bz_.avail_in = static_cast<unsigned>(avail_in);
        bz_.next_out = out.data() + produced;
        bz_.avail_out = static_cast<unsigned>(avail_out);
        const int rc = BZ2_bzDecompress(&bz_);
        used_in = avail_in - bz_.avail_in;
        produced += avail_out - bz_.avail_out;
        if (rc == BZ_STREAM_END) member_end = true;
        else if (rc != BZ_OK) {
          fail("corrupt bzip2 data (error " + std::to_string(rc) + ")");
          finished_ = true;
          return produced;
        }
      }
      raw_pos_ += used_in;
      in_member_ = !member_end;
      if (member_end) {
        // Concatenated members (as `cat a.gz b.gz` or pigz/pbzip2 write) continue the same stream.
        if (compression_ == Compression::gzip) inflateReset(&z_);
        else {
          BZ2_bzDecompressEnd(&bz_);
          std::memset(&bz_, 0, sizeof bz_);
          BZ2_bzDecompressInit(&bz_, 0, 0);
        }
      }
    }
    return produced;
  }

  std::FILE* file_;
  bool owns_;
  std::string path_;
  std::vector<char> raw_, out_;
  size_t raw_pos_ = 0, raw_end_ = 0;
  std::atomic<uint64_t> consumed_{0};  // raw bytes read from the file (by the worker, when compressed)
  uint64_t produced_ = 0;  // bytes handed to the reader (after decompression)
  std::atomic<uint32_t> crc_{0};  // CRC-32C of the raw bytes read so far (0 for none)
  Compression compression_ = Compression::none;
  z_stream z_{};
  bz_stream bz_{};
  bool in_member_ = false;  // inside a compressed member that has not ended yet
  bool finished_ = false;
  bool ahead_ = false;  // read by the worker thread
  std::string error_;
  // Hand-over between the decompression thread and underflow().
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<char>> ready_;  // decompressed blocks, in order
  std::vector<std::vector<char>> spare_;  // consumed blocks, for reuse
  bool worker_done_ = false, stop_ = false;
  std::thread worker_;
};

InputStream::InputStream(const std::string& path) {
  std::FILE* file = nullptr;
  bool owns = true;
  if (path == "-") {
    file = stdin;
    owns = false;
  } else {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw InputError("'" + path + "' is a directory, not a sequence file");
    file = std::fopen(path.c_str(), "rb");
    if (!file) throw InputError("cannot open '" + path + "': " + std::strerror(errno));
  }
  buffer_ = std::make_unique<Buffer>(file, owns, path == "-" ? "stdin" : path);
  stream_ = std::make_unique<std::istream>(buffer_.get());
  path_ = path;
  check();
}

InputStream::~InputStream() = default;

std::istream& InputStream::stream() { return *stream_; }
const std::string& InputStream::path() const { return path_; }
Compression InputStream::compression() const { return buffer_->compression(); }
uint64_t InputStream::compressed_bytes_read() const { return buffer_->consumed(); }
uint64_t InputStream::bytes_read() const { return buffer_->produced(); }
uint32_t InputStream::raw_crc32c() const { return buffer_->crc(); }

void InputStream::check() const {
  if (!buffer_->error().empty()) {
    throw InputError("'" + (path_ == "-" ? std::string("stdin") : path_) + "': " + buffer_->error());
  }
}

}  // namespace performer::bio
