#pragma once
// The one progress display of every long command (train, score, embed, similarity, variants, data
// stats, the benchmarks). On a terminal (stderr is a tty): a bar redrawn in place with the count,
// rate and time left. Otherwise: plain lines, at most one every plain_interval seconds, for logs.
// Always on stderr, so that stdout stays the data.
#include <chrono>
#include <string>

namespace performer::cli {

class Progress {
 public:
  // what: "scored"; unit: "sequences" (for the rate; "" shows none); total: the count at the end, 0
  // when unknown.
  Progress(std::string what, std::string unit, double total = 0, double plain_interval = 10);
  ~Progress();  // ends the bar's line

  // done so far; detail: extra text ("loss 2.91 lr 1e-3"); fraction: the share done when the
  // caller knows it better than done / total (training by time), < 0 otherwise.
  void update(double done, const std::string& detail = "", double fraction = -1);
  // A line of its own (an evaluation result), printed above the bar.
  void message(const std::string& line);
  // The last line: clears the bar and prints summary.
  void finish(const std::string& summary);
  // Takes the bar off the terminal (before a command prints its results).
  void clear();

  // The run ends by the clock after this many seconds: shown beside the elapsed time.
  void set_time_budget(double seconds) { time_budget_ = seconds; }

  static std::string clock(double seconds);  // 0:01:05
  bool terminal() const { return terminal_; }

 private:
  std::string what_, unit_;
  double total_, plain_interval_;
  double time_budget_ = 0;
  bool terminal_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace performer::cli
