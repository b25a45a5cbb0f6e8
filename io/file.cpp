#include "io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <streambuf>
#include <vector>

#include "core/errors.h"

namespace performer::io {

namespace {

// The temporaries alive now, for remove_temporaries() (which may run in a signal handler: slots are
// atomics, the names are written before a slot is published and freed only after it is cleared).
constexpr int kSlots = 64;
struct Temporary {
  std::atomic<char*> path{nullptr};
  std::atomic<bool> folder{false};
};
Temporary g_temporaries[kSlots];

int register_temporary(const std::string& path, bool folder) {
  char* copy = ::strdup(path.c_str());
  for (int i = 0; i < kSlots; ++i) {
    char* expected = nullptr;
    if (g_temporaries[i].path.compare_exchange_strong(expected, copy)) {
      g_temporaries[i].folder.store(folder);
      return i;
    }
  }
  std::free(copy);  // more than kSlots at once: this one is not cleaned up by a signal
  return -1;
}

void unregister_temporary(int slot) {
  if (slot < 0) return;
  char* path = g_temporaries[slot].path.exchange(nullptr);
  std::free(path);
}

}  // namespace

void remove_temporaries() {
  for (auto& t : g_temporaries) {
    const char* path = t.path.load();
    if (!path) continue;
    if (t.folder.load()) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    } else {
      ::unlink(path);
    }
  }
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (a == "-" || b == "-" || ::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string os_reason(int error_number) {
  return error_number ? std::strerror(error_number) : "unknown error";
}

// A stream buffer over the temporary's file descriptor that keeps the errno of the first failed
// write, so that the error names the reason (a full disk, a file-size limit) and not just "failed".
class AtomicFile::Buffer : public std::streambuf {
 public:
  explicit Buffer(int fd) : fd_(fd), data_(1 << 16) { setp(data_.data(), data_.data() + data_.size()); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const char* p = pbase();
    while (error_ == 0 && p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) error_ = n < 0 ? errno : EIO;
      else p += n;
    }
    setp(data_.data(), data_.data() + data_.size());
    return error_ == 0;
  }
  int fd_;
  int error_ = 0;
  std::vector<char> data_;
};

AtomicFile::AtomicFile(std::string path, bool durable) : path_(std::move(path)), durable_(durable) {
  std::vector<char> name(path_.begin(), path_.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) fail(errno);
  temp_ = name.data();
  slot_ = register_temporary(temp_, false);
  // mkstemp creates the file readable by its owner only; outputs get the usual 0666 & ~umask.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
}

AtomicFile::~AtomicFile() {
  stream_.reset();
  buffer_.reset();
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) std::remove(temp_.c_str());
  unregister_temporary(slot_);
}

std::ostream& AtomicFile::stream() {
  if (!stream_) {
    buffer_ = std::make_unique<Buffer>(fd_);
    stream_ = std::make_unique<std::ostream>(buffer_.get());
  }
  return *stream_;
}

void AtomicFile::commit() {
  if (stream_) {
    stream_->flush();
    if (buffer_->error() != 0) fail(buffer_->error());
    if (!*stream_) fail(EIO);
  }
  if (durable_ && ::fsync(fd_) != 0) fail(errno);
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail(errno);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) fail(errno);
  committed_ = true;
  unregister_temporary(slot_);
  slot_ = -1;
}

void AtomicFile::fail(int error_number) {
  throw InputError("cannot write '" + path_ + "': " + os_reason(error_number));
}

AtomicFolder::AtomicFolder(std::string path) : path_(std::move(path)) {
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  std::vector<char> name(path_.begin(), path_.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  if (!::mkdtemp(name.data())) throw InputError("cannot create folder '" + path_ + "': " + os_reason(errno));
  temp_ = name.data();
  slot_ = register_temporary(temp_, true);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::chmod(temp_.c_str(), 0777 & ~mask);
}

AtomicFolder::~AtomicFolder() {
  std::error_code ignored;
  if (!committed_ && !temp_.empty()) std::filesystem::remove_all(temp_, ignored);
  unregister_temporary(slot_);
}

void AtomicFolder::commit() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string previous;
  if (fs::exists(fs::symlink_status(path_, ec))) {
    if (!fs::is_directory(path_, ec)) throw InputError("cannot write folder '" + path_ + "': a file of that name exists");
    // Moved aside first: a directory cannot be renamed over a non-empty one.
    previous = temp_ + ".previous";
    if (std::rename(path_.c_str(), previous.c_str()) != 0) {
      throw InputError("cannot replace folder '" + path_ + "': " + os_reason(errno));
    }
  }
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int error_number = errno;
    if (!previous.empty()) std::rename(previous.c_str(), path_.c_str());
    throw InputError("cannot write folder '" + path_ + "': " + os_reason(error_number));
  }
  committed_ = true;
  unregister_temporary(slot_);
  slot_ = -1;
  if (!previous.empty()) fs::remove_all(previous, ec);
}

Output::Output(const std::string& path) : name_(path == "-" ? "standard output" : path) {
  if (path != "-") file_ = std::make_unique<AtomicFile>(path);
}

std::ostream& Output::stream() { return file_ ? file_->stream() : std::cout; }

void Output::commit() {
  if (file_) {
    file_->commit();
    return;
  }
  errno = 0;
  std::cout.flush();
  // std::cout writes through stdio: flush that too, where a full disk or a closed pipe shows.
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int error_number = errno;
    std::cout.clear();
    throw InputError("cannot write to standard output: " +
                     (error_number ? os_reason(error_number) : std::string("the write failed")));
  }
}

void write_file(const std::string& path, const std::string& content) {
  Output out(path);
  out.stream() << content;
  out.commit();
}

std::string read_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open '" + path + "': " + os_reason(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError("cannot read '" + path + "': " + os_reason(errno));
  return text.str();
}

}  // namespace performer::io
