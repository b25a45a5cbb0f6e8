#pragma once
// A matrix as an image: one pixel per cell (x = column, y = row), coloured by viridis through a scale.
// Widgets and figures scale the image when they draw it; the pixels themselves stay exact.
#include <QImage>

#include "gui/colour_scale.h"
#include "gui/matrix.h"

namespace performer::view {

QImage heatmap_image(const Matrix& m, const ColourScale& scale);  // cols x rows, Format_RGB32

}  // namespace performer::view
