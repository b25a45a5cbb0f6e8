#pragma once
// The layer x head grid: one small heatmap per (layer, head) on a shared colour scale, row and column
// headers, a title naming sequence and model, and one legend. The layout is separate so that the grid
// widget maps clicks to tiles with the same geometry it paints with.
#include <QImage>
#include <QPointF>
#include <QRectF>

#include <memory>
#include <vector>

#include "gui/colour_scale.h"
#include "gui/figure.h"
#include "gui/view_data.h"

namespace performer::view {

struct GridLayout {
  int rows = 0;          // layers shown
  int cols = 0;          // heads shown
  double tile = 160;     // side of a tile
  double gap = 8;        // between tiles
  double left = 0;       // room for row headers
  double top = 0;        // room for the title and column headers
  double legend = 0;     // room for the legend, right of the tiles
  double margin = 12;

  QRectF tile_rect(int row, int col) const;
  int tile_at(const QPointF& point) const;  // row * cols + col, or -1 between and outside tiles
  QRectF tiles_area() const;                // the block of all tiles
  QSizeF size() const;
};

class GridFigure : public Figure {
 public:
  // layers, heads: which to show, in that order (empty: all). Throws InputError for an index the data
  // does not have.
  GridFigure(std::shared_ptr<const AttentionData> data, std::vector<int> layers, std::vector<int> heads, bool log_scale,
             int tile = 160);

  QSize size() const override;
  void paint(QPainter& painter) const override;

  const GridLayout& layout() const { return layout_; }
  int layer_of(int tile) const { return layers_[tile / layout_.cols]; }
  int head_of(int tile) const { return heads_[tile % layout_.cols]; }
  const ColourScale& scale() const { return scale_; }

 private:
  std::shared_ptr<const AttentionData> data_;
  std::vector<int> layers_, heads_;
  ColourScale scale_;
  GridLayout layout_;
  std::vector<QImage> tiles_;  // row-major over (layer, head) shown; at most tile x tile cells each
};

// "all" or empty -> every index below count; else a comma-separated list of indices ("0,2,3", "1-3").
// Throws InputError for an index out of [0, count) or text that is not a list.
std::vector<int> parse_index_list(const QString& text, int count, const QString& what);

}  // namespace performer::view
