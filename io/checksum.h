#pragma once
// CRC-32C (Castagnoli): the checksum of the prepared-data files and of their inputs. The CPU's
// crc32 instruction where it has one (x86 SSE4.2: several GB/s, so a checksum never slows a pass
// over the data), a table elsewhere. The same value as Python's `crc32c` package, iSCSI, ext4 and
// Google Cloud Storage.
#include <cstddef>
#include <cstdint>
#include <string>

namespace performer::io {

// Continues a checksum: crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, const void* data, size_t bytes);

// The table implementation alone (what machines without the instruction run); for tests.
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t bytes);

// Eight lower-case hex digits, as the manifest stores it.
std::string crc_hex(uint32_t crc);

}  // namespace performer::io
