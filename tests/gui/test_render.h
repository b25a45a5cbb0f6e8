#pragma once
#include <QObject>

namespace performer::view {

class RenderTests : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void viridis_ends_are_the_published_colours();
  void viridis_lightness_rises();
  void heatmap_has_expected_colours_at_known_cells();
  void log_scale_spaces_decades_evenly();
  void downsample_averages_areas();
  void grid_has_layers_times_heads_tiles();
  void index_lists_parse();
  void png_export_reads_back_at_its_size();
  void svg_export_is_well_formed();
  void csv_round_trips_numbers();
  void exports_to_bad_places_are_errors();
  void similarity_figure_draws_both_matrices();
};

}  // namespace performer::view
