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

// First record of a FASTA file (or "-"): the --sequence of variants and attention.
bio::SequenceRecord first_record(const std::string& path);

// Creates a folder (and parents); InputError when it cannot.
void make_folder(const std::string& path);

}  // namespace performer::cli
