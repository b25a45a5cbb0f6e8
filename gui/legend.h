#pragma once
// The colour bar next to a heatmap: the colour map from low (bottom) to high (top), with ticks at values
// of the scale (decades on a log scale) and a title along its side.
#include <QPainter>
#include <QRectF>
#include <QString>

#include "gui/colour_scale.h"

namespace performer::view {

// Width a legend needs for its bar, tick labels and title.
double legend_width(const QFont& font);

// bar_area: the full height the bar may take; the legend is drawn in bar_area.x() .. + legend_width().
void paint_legend(QPainter& painter, const QRectF& bar_area, const ColourScale& scale, const QString& title);

}  // namespace performer::view
