#include "gui/options.h"

#include <QCommandLineParser>

#include <cstring>

namespace performer::view {

bool parse_options(const QStringList& arguments, ViewOptions& o, QString& error) {
  QCommandLineParser p;
  p.setApplicationDescription(
      "Attention maps and residue similarity of a performer protein language model.\n"
      "Layers and heads count from 0 (as in attention.npy); residues from 1 (as in UniProt).\n"
      "With --render, draws one view to --out without a display and exits.");
  p.addHelpOption();
  p.addVersionOption();
  p.addPositionalArgument("model", "checkpoint written by performer train", "[MODEL]");
  const QCommandLineOption fasta("fasta", "FASTA file: the sequence (attention) or the set (similarity)", "file");
  const QCommandLineOption record("record", "record of --fasta to show (id, accession, entry name)", "id");
  const QCommandLineOption sequence("sequence", "residues given inline instead of --fasta", "residues");
  const QCommandLineOption render("render", "draw one view without a display: grid, head or similarity", "view");
  const QCommandLineOption out("out", "figure file for --render: .png or .svg", "file");
  const QCommandLineOption csv("csv", "numbers: the --layer/--head matrix, or the similarity pairs", "file");
  const QCommandLineOption layers("layers", "grid rows: all, 0,2 or 1-3", "list", o.layers);
  const QCommandLineOption heads("heads", "grid columns: all, 0,2 or 1-3", "list", o.heads);
  const QCommandLineOption layer("layer", "layer of the head view", "N", QString::number(o.layer));
  const QCommandLineOption head("head", "head of the head view", "N", QString::number(o.head));
  const QCommandLineOption n("n", QString("similarity: first N sequences of --fasta (default %1)").arg(o.n), "N",
                           QString::number(o.n));
  const QCommandLineOption method("method", "similarity: attention, attention-profile, substitution or embedding",
                                  "name", o.method);
  const QCommandLineOption log_scale("log-scale", "colour by log10 of the weight");
  const QCommandLineOption scale("scale", "PNG pixels per figure unit: 1 (default), 2 for print", "x",
                               QString::number(o.scale));
  const QCommandLineOption timing("timing", "print load, compute and drawing times to stderr");
  const QCommandLineOption screenshot("screenshot", "window: save it as this PNG once the grid is shown, then quit",
                                      "file");
  p.addOptions({fasta, record, sequence, render, out, csv, layers, heads, layer, head, n, method, log_scale, scale,
                timing, screenshot});
  if (!p.parse(arguments)) {
    error = p.errorText();
    return false;
  }
  if (p.isSet("help")) p.showHelp(0);
  if (p.isSet("version")) p.showVersion();

  const QStringList positional = p.positionalArguments();
  if (positional.size() > 1) {
    error = "one checkpoint at most, got: " + positional.join(' ');
    return false;
  }
  o.model = positional.value(0);
  o.fasta = p.value(fasta);
  o.record = p.value(record);
  o.sequence = p.value(sequence);
  o.render = p.value(render);
  o.out = p.value(out);
  o.csv = p.value(csv);
  o.layers = p.value(layers);
  o.heads = p.value(heads);
  o.method = p.value(method);
  o.log_scale = p.isSet(log_scale);
  o.timing = p.isSet(timing);
  o.screenshot = p.value(screenshot);
  bool ok_layer = false, ok_head = false, ok_n = false, ok_scale = false;
  o.layer = p.value(layer).toInt(&ok_layer);
  o.head = p.value(head).toInt(&ok_head);
  o.n = p.value(n).toInt(&ok_n);
  o.scale = p.value(scale).toDouble(&ok_scale);
  if (!ok_layer || !ok_head) error = "--layer and --head take whole numbers";
  else if (!ok_n || o.n < 1) error = "--n takes a positive whole number";
  else if (!ok_scale || o.scale <= 0 || o.scale > 8) error = "--scale takes a number in (0, 8]";
  else if (!QStringList({"attention", "attention-profile", "substitution", "embedding"}).contains(o.method))
    error = "--method takes attention, attention-profile, substitution or embedding, not '" + o.method + "'";
  else if (!o.render.isEmpty() && o.render != "grid" && o.render != "head" && o.render != "similarity")
    error = "--render takes grid, head or similarity, not '" + o.render + "'";
  else if (!o.render.isEmpty() && (o.model.isEmpty() || o.out.isEmpty()))
    error = "--render needs a MODEL and --out FILE";
  else if (!o.screenshot.isEmpty() && o.model.isEmpty())
    error = "--screenshot needs a MODEL (it waits for the grid)";
  else if (p.isSet(sequence) && o.sequence.trimmed().isEmpty())
    error = "--sequence is empty: give the residues, or leave the option out";
  else if (!o.sequence.isEmpty() && !o.fasta.isEmpty() && o.render != "similarity")
    error = "give the sequence with --fasta or --sequence, not both";
  return error.isEmpty();
}

bool wants_headless(int argc, char** argv) {
  for (int k = 1; k < argc; ++k) {
    if (std::strcmp(argv[k], "--render") == 0 || std::strncmp(argv[k], "--render=", 9) == 0) return true;
  }
  return false;
}

bool wants_help(int argc, char** argv) {
  for (int k = 1; k < argc; ++k) {
    for (const char* flag : {"-h", "--help", "-?", "--help-all", "-v", "--version"}) {
      if (std::strcmp(argv[k], flag) == 0) return true;
    }
  }
  return false;
}

bool has_display() {
  return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
         !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
}

}  // namespace performer::view
