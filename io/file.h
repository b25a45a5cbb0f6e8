#pragma once
// Files written whole or not at all. Every output of the toolkit goes through here: the result appears
// under its name only once it is complete (a temporary beside it, flushed, closed and renamed), a failed
// write names the file and the operating system's reason, and "-" means standard output.
#include <memory>
#include <ostream>
#include <string>

namespace performer::io {

// The operating system's text for an errno value ("No space left on device").
std::string os_reason(int error_number);

// A file written under a temporary name unique to this process and call (`<path>.tmp.XXXXXX`, in the
// same folder so the rename is atomic), renamed to its path by commit(). Destroyed without commit()
// (an exception, an early return), it removes the temporary: a failed run leaves the previous file
// as it was and no stray temporary. Errors are InputError "cannot write '<path>': <reason>".
class AtomicFile {
 public:
  // Creates the temporary. durable: fsync before the rename, so the file survives a power loss too
  // (checkpoints); a killed process never leaves a half file either way.
  explicit AtomicFile(std::string path, bool durable = false);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  // For writers that take a file name rather than a stream (LibTorch's archives): write here, then commit().
  const std::string& temp_path() const { return temp_; }
  std::ostream& stream();  // binary
  // Flushes and closes the stream (if used), checks every step, renames the temporary to path().
  void commit();

 private:
  class Buffer;
  [[noreturn]] void fail(int error_number);
  std::string path_, temp_;
  bool durable_;
  bool committed_ = false;
  int fd_ = -1;
  int slot_ = -1;  // in the registry of remove_temporaries()
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
};

// A single-file output that may be standard output: "-" writes to stdout (flushed and checked at
// commit, so a full disk or a closed pipe is an error, not a silent exit 0); any other path is an
// AtomicFile.
class Output {
 public:
  explicit Output(const std::string& path);
  std::ostream& stream();
  void commit();
  bool is_stdout() const { return !file_; }
  const std::string& name() const { return name_; }  // the path, or "standard output"

 private:
  std::string name_;
  std::unique_ptr<AtomicFile> file_;
};

// A folder of outputs that appears whole or not at all: files are written into a temporary folder
// beside it (`<path>.tmp.XXXXXX`), and commit() puts it in place of path (a previous folder of that
// name is replaced only then). Destroyed without commit(), it removes the temporary folder: a
// failed run leaves the previous results as they were.
class AtomicFolder {
 public:
  explicit AtomicFolder(std::string path);
  ~AtomicFolder();
  AtomicFolder(const AtomicFolder&) = delete;
  AtomicFolder& operator=(const AtomicFolder&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }
  std::string file(const std::string& name) const { return temp_ + "/" + name; }  // a path inside
  void commit();

 private:
  std::string path_, temp_;
  bool committed_ = false;
  int slot_ = -1;  // in the registry of remove_temporaries()
};

// write_file(path, text): an Output written in one go ("-": stdout).
void write_file(const std::string& path, const std::string& content);

// Reads a whole file; InputError naming it (and the reason) when it cannot.
std::string read_file(const std::string& path);

// Whether two paths name the same existing file (same device and inode): an output that would
// overwrite an input. False when either does not exist.
bool same_file(const std::string& a, const std::string& b);

// Removes the temporaries of every AtomicFile and AtomicFolder alive now. For a program's handler of
// SIGINT/SIGTERM, before it ends: a killed run leaves no stray temporary. Files are unlinked with
// async-signal-safe calls; folders are removed best-effort.
void remove_temporaries();

}  // namespace performer::io
