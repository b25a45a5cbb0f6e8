#include "gui/sequences.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#include "bio/fasta.h"
#include "bio/header.h"
#include "core/errors.h"

namespace performer::view {
namespace {

SequenceInput from_record(const std::string& header_line, const std::string& sequence) {
  const bio::Header h = bio::parse_header(header_line);
  SequenceInput s;
  s.id = QString::fromStdString(h.entry_name.empty() ? h.id : h.entry_name);
  s.accession = QString::fromStdString(h.accession);
  s.header = QString::fromStdString(header_line);
  s.residues = QString::fromStdString(sequence);
  return s;
}

QString find_dataset(const QString& name) {
  QStringList roots = {QDir::currentPath(), QCoreApplication::applicationDirPath() + "/.."};
#ifdef PERFORMER_SOURCE_DIR
  roots << QString(PERFORMER_SOURCE_DIR);
#endif
  for (const QString& root : roots) {
    const QFileInfo f(root + "/datasets/" + name);
    if (f.isFile()) return f.canonicalFilePath();
  }
  return {};
}

}  // namespace

std::vector<SequenceInput> read_fasta(const QString& path, int limit, const JobControl& control) {
  bio::FastaReader reader(path.toStdString());
  std::vector<SequenceInput> out;
  bio::SequenceRecord r;
  while (static_cast<int>(out.size()) < limit && reader.next(r)) {
    out.push_back(from_record(r.header, r.sequence));
    out.back().where = QString::fromStdString(reader.where(r));
    if (out.size() % 1000 == 0) {
      control.check();
      control.report(static_cast<int>(out.size()), 0, QString("read %1 records").arg(out.size()));
    }
  }
  return out;
}

SequenceInput find_record(const std::vector<SequenceInput>& records, const QString& id, const QString& path) {
  for (const SequenceInput& r : records) {
    const QString first_word = r.header.section(' ', 0, 0);
    for (const QString& name : {r.id, r.accession, first_word}) {
      if (name.compare(id, Qt::CaseInsensitive) == 0) return r;
    }
  }
  throw InputError(QString("'%1' has no record '%2'").arg(path, id).toStdString());
}

SequenceInput load_sequence(const QString& path, const QString& id) {
  if (id.isEmpty()) {
    const auto first = read_fasta(path, 1);
    return first.front();  // read_fasta throws for a file without records
  }
  return find_record(read_fasta(path), id, path);
}

SequenceInput requested_sequence(const QString& fasta, const QString& id, const QString& text) {
  if (!text.isEmpty()) return parse_pasted(text);
  const QString path = fasta.isEmpty() ? default_example_fasta() : fasta;
  if (path.isEmpty()) throw InputError("no --fasta given and datasets/bpt1_bovin.fasta not found");
  return load_sequence(path, id);
}

SequenceInput parse_pasted(const QString& text) {
  QString body = text.trimmed();
  SequenceInput s;
  s.id = "pasted";
  s.where = "the pasted text";
  if (body.startsWith('>')) {
    const qsizetype end = body.indexOf('\n');
    const QString header = body.mid(1, end < 0 ? -1 : end - 1).trimmed();
    s = from_record(header.toStdString(), "");
    s.where = "the pasted text";
    body = end < 0 ? QString() : body.mid(end + 1);
    if (const qsizetype next = body.indexOf('>'); next >= 0) body.truncate(next);  // first record only
  }
  for (QChar c : body) {
    if (!c.isSpace() && !c.isDigit()) s.residues += c;
  }
  if (s.residues.endsWith('*')) s.residues.chop(1);
  if (s.residues.isEmpty()) throw InputError("the pasted text holds no residues");
  return s;
}

QString default_example_fasta() { return find_dataset("bpt1_bovin.fasta"); }
QString default_similarity_fasta() { return find_dataset("uniprot_sample.fasta"); }

}  // namespace performer::view
