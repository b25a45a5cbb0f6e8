#pragma once
// How long-running work (loading, attention maps, similarity) reports progress and learns it should
// stop. The compute layer checks between sequences and layers; the GUI wires these to a QPromise, the
// headless renderer to nothing.
#include <QString>

#include <functional>
#include <stdexcept>

namespace performer::view {

// Thrown by JobControl::check() once cancellation was requested; never shown as an error.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

struct JobControl {
  std::function<bool()> cancelled;                                 // true once the user cancelled
  std::function<void(int done, int total, const QString& stage)> progress;  // e.g. (3, 100, "sequence 3 of 100")

  void check() const {
    if (cancelled && cancelled()) throw Cancelled();
  }
  void report(int done, int total, const QString& stage) const {
    if (progress) progress(done, total, stage);
  }
};

}  // namespace performer::view
