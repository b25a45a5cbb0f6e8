#pragma once
// performer-view --render: the same figures as the window, drawn to a file with no display (the
// offscreen platform), for tests and scripts. Returns the exit code: 0, or 1 after one "error: ..." line.
#include "gui/options.h"

namespace performer::view {

int render_headless(const ViewOptions& options);

}  // namespace performer::view
