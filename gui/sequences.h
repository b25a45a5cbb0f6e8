#pragma once
// Sequences in: FASTA records for the record picker, and text a user pasted (raw residues or FASTA).
#include <QString>

#include <vector>

#include "gui/job_control.h"

namespace performer::view {

struct SequenceInput {
  QString id;        // UniProt entry name or accession when the header has one, else the header's first word
  QString accession; // P00974 for UniProtKB headers, else the id
  QString header;    // the full header line, for tooltips
  QString residues;  // as in the file, whitespace removed
  QString where;     // where it came from, for messages: "'file.fasta': record 3 (sp|P00974|BPT1_BOVIN)" or "the pasted text"
};

// Every record of a FASTA file (plain, gzip or bzip2), up to `limit`. InputError for a file that is
// missing or malformed; checks control between records.
std::vector<SequenceInput> read_fasta(const QString& path, int limit = 100000, const JobControl& control = {});

// The record whose id, accession or header's first word is `id` (case-insensitive); InputError if none.
SequenceInput find_record(const std::vector<SequenceInput>& records, const QString& id, const QString& path);

// The record `id` of a FASTA file, or its first record when id is empty.
SequenceInput load_sequence(const QString& path, const QString& id);

// What the command line asks for: inline text if given, else record `id` of `fasta`, else BPT1_BOVIN.
SequenceInput requested_sequence(const QString& fasta, const QString& id, const QString& text);

// Pasted text: FASTA (first record) or bare residues; whitespace and digits are dropped.
// InputError when nothing is left.
SequenceInput parse_pasted(const QString& text);

// BPT1_BOVIN, the default example: datasets/bpt1_bovin.fasta under the working directory, next to the
// executable's parent, or in the source tree it was built from; empty when none exists.
QString default_example_fasta();
QString default_similarity_fasta();  // datasets/uniprot_sample.fasta, found the same way

}  // namespace performer::view
