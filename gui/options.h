#pragma once
// The command line of performer-view, for the window and the headless renderer alike:
//   performer-view [MODEL] [--fasta FILE] [--record ID] [--sequence TEXT]
//                  [--render grid|head|similarity --out FILE.png|.svg] [--layer N --head N]
//                  [--layers LIST] [--heads LIST] [--n N] [--method M] [--csv FILE] [--log-scale] [--scale X]
//                  [--timing] [--screenshot FILE.png]
#include <QString>
#include <QStringList>

namespace performer::view {

struct ViewOptions {
  QString model;             // checkpoint written by performer train
  QString fasta;             // attention: the sequence's FASTA file; similarity: the sequence set
  QString record;            // attention: which record of --fasta (id, accession or entry name); first if empty
  QString sequence;          // attention: residues given inline instead of --fasta
  QString render;            // headless: grid, head or similarity; empty opens the window
  QString out;               // headless: the figure, .png or .svg
  QString csv;               // the numbers: head (--layer, --head) matrix, or the similarity pairs
  QString layers = "all";    // grid rows: "all", "0,2", "1-3"
  QString heads = "all";     // grid columns
  int layer = 0;             // head view
  int head = 0;
  int n = 100;               // similarity: first n sequences of --fasta
  QString method = "attention";  // similarity: attention, attention-profile, substitution or embedding
  bool log_scale = false;    // colour by log10 of the weight
  double scale = 1;          // PNG pixels per figure unit (2 for print)
  bool timing = false;       // print how long loading, computing and drawing took (stderr)
  QString screenshot;        // window: once the grid is shown, save the window as this PNG and quit
};

// Fills options from the arguments (argv[0] first). False with a message for bad usage; --help and
// --version print and exit as QCommandLineParser does.
bool parse_options(const QStringList& arguments, ViewOptions& options, QString& error);

// True when the arguments ask for a headless render (checked before any QGuiApplication exists).
bool wants_headless(int argc, char** argv);

// True when the arguments ask for --help or --version, which need no display either.
bool wants_help(int argc, char** argv);

// True when a window can be shown: an X or Wayland display, or a platform chosen in QT_QPA_PLATFORM.
bool has_display();

}  // namespace performer::view
