#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace performer::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string count(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, value == std::floor(value) ? "%.0f" : "%.1f", value);
  return buf;
}

}  // namespace

Progress::Progress(std::string what, std::string unit, double total, double plain_interval)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), plain_interval_(plain_interval),
      terminal_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() { clear(); }

std::string Progress::clock(double seconds) {
  char buf[32];
  const long s = std::lround(std::max(0.0, seconds));
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

void Progress::update(double done, const std::string& detail, double fraction) {
  const double elapsed = seconds_since(start_);
  // A terminal shows the bar at once and redraws it at most 5 times a second; a log gets a line every
  // plain_interval seconds (a short command prints none).
  const bool first = terminal_ && !bar_shown_;
  if (!first && seconds_since(last_) < (terminal_ ? 0.2 : plain_interval_)) return;
  last_ = std::chrono::steady_clock::now();
  if (fraction < 0 && total_ > 0) fraction = done / total_;
  fraction = std::clamp(fraction, -1.0, 1.0);
  const double rate = elapsed > 0 ? done / elapsed : 0;
  // Built by appending: GCC 12 warns falsely (-Wrestrict) about "literal" + std::string here.
  std::string line = what_;
  line.append(" ").append(count(done));
  if (total_ > 0) line.append("/").append(count(total_));
  if (!detail.empty()) line.append("  ").append(detail);
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %.1f %s/s", rate, unit_.c_str());
  if (done > 0 && !unit_.empty()) line.append(buf);
  line.append("  ").append(clock(elapsed));
  if (time_budget_ > 0) line.append("/").append(clock(time_budget_));
  line.append(" elapsed");
  if (fraction > 0) line.append("  eta ").append(clock(elapsed / fraction * (1 - fraction)));
  if (terminal_) {
    std::string bar;
    if (fraction >= 0) {
      const int width = 24, filled = static_cast<int>(width * fraction);
      bar.append("[").append(filled, '#').append(width - filled, '.').append("] ");
    }
    std::fprintf(stderr, "\r%s%s\033[K", bar.c_str(), line.c_str());
    bar_shown_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::message(const std::string& line) {
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish(const std::string& summary) { message(summary); }

void Progress::clear() {
  if (!bar_shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  bar_shown_ = false;
}

}  // namespace performer::cli
