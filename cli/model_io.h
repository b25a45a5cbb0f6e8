#pragma once
// What the commands that use a trained model share: loading it, and sequences as its tokens.
#include <string>
#include <vector>

#include "bio/fasta.h"
#include "bio/vocabulary.h"
#include "core/checkpoint.h"

namespace performer::cli {

// Loads a checkpoint for inference (eval mode) on device; errors name the file.
core::Checkpoint load_model(const std::string& path, const std::string& device = "cpu");

// Residue token ids of a sequence (no specials) under the unknown-character policy; empty when the
// policy is skip and the sequence has an unknown character.
std::vector<int64_t> residue_tokens(const std::string& sequence, bio::UnknownPolicy policy, const std::string& where);

// <cls> residues <eos>
std::vector<int64_t> framed_tokens(const std::vector<int64_t>& residues);

// First record of a FASTA file (or "-"): the --sequence of variants and attention.
bio::SequenceRecord first_record(const std::string& path);

// Creates a folder (and parents); InputError when it cannot.
void make_folder(const std::string& path);

}  // namespace performer::cli
