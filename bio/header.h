#pragma once
// FASTA header lines of UniProtKB and UniRef, parsed into fields; anything else is id + description.
#include <cstdint>
#include <string>
#include <string_view>

namespace performer::bio {

enum class HeaderKind {
  uniprotkb,  // >sp|P00974|BPT1_BOVIN Pancreatic trypsin inhibitor OS=Bos taurus OX=9913 GN=... PE=1 SV=2
  uniref,     // >UniRef50_P00974 Pancreatic trypsin inhibitor n=12 Tax=Bos taurus TaxID=9913 RepID=BPT1_BOVIN
  plain,      // >anything else: first word is the id
};
std::string to_string(HeaderKind kind);

struct Header {
  HeaderKind kind = HeaderKind::plain;
  std::string id;           // first word: "sp|P00974|BPT1_BOVIN", "UniRef50_P00974", ...
  std::string accession;    // P00974 (UniProtKB); the cluster's member accession for UniRef; else id
  std::string description;  // text after the id, fields included
  std::string name;         // protein name: description up to the first FIELD= (UniProtKB, UniRef)
  std::string database;     // "sp" (Swiss-Prot) or "tr" (TrEMBL); "UniRef50"/"UniRef90"/"UniRef100"
  std::string entry_name;   // BPT1_BOVIN (UniProtKB)
  std::string organism;     // OS= or Tax=
  int64_t taxid = -1;       // OX= or TaxID=; -1 when absent
  std::string gene;         // GN=
  int protein_existence = -1;  // PE= (1..5); -1 when absent
  int sequence_version = -1;   // SV=; -1 when absent
  int64_t members = -1;        // n= (UniRef)
  std::string representative;  // RepID= (UniRef)

  bool is_swissprot() const { return kind == HeaderKind::uniprotkb && database == "sp"; }
};

// Parses a header line, with or without the leading '>'. Never throws: unknown layouts are plain.
Header parse_header(const std::string& line);
// Only what the id gives (kind, id, accession, database, entry name): for readers that need no
// description fields, at a fraction of the cost.
Header parse_header_id(const std::string& line);
// The id (first word) of a header line, and the accession within an id, without copying.
std::string_view header_id(std::string_view line);
std::string_view accession_of(std::string_view id);

}  // namespace performer::bio
