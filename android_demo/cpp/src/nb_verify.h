// Verification of Paddle Lite naive-buffer (.nb) models before Paddle Lite reads them.
//
// Paddle Lite reads a .nb file's flatbuffers without a verifier: a damaged offset, a missing required field or a
// parameter whose dims disagree with its data is a SIGSEGV or an abort of the whole process. These functions check a
// whole file against the format described in edge_ocr/engines/nb_format.json (through nb_format_generated.h), the
// same checks as the Python runtime's edge_ocr/engines/nb_program.py: every table, vtable, vector and string inside
// its buffer and aligned, strings NUL-terminated UTF-8, required fields present, enums and counts in range, keyed
// vectors sorted, each op's kernel one for its type, every variable an op names declared, every parameter a declared
// persistable variable whose dims times its element size is its data length, nothing after the last one.
// Needs only the C++ standard library (C++14): the core, the CLI and the native engine (edge_ocr_lite) all use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edge_ocr {

struct NbInfo {
  int meta_version = 0;
  std::string opt_version;
  std::vector<std::string> kernels;  // the kernel of each op of block 0 (op/alias/target/precision/layout)
  size_t params = 0;
};

// Verifies a .nb file's bytes. Throws std::runtime_error with a one-line reason (no path).
NbInfo VerifyNbBuffer(const void* data, size_t size);
// Reads and verifies a regular file; with a runtime_target ("arm", "x86") also refuses a model whose kernels are for
// another target. Throws std::runtime_error("PATH: reason").
NbInfo VerifyNbFile(const std::string& path, const std::string& runtime_target = "");
// The hardware target most kernels are for ("arm", "x86", ...), host and any kernels aside; "host" when none.
std::string NbDeviceTarget(const NbInfo& info);

// The core's names (ocr_core.h): the whole verification, and the same with the target check.
void CheckNbFile(const std::string& path);
void CheckNbTarget(const std::string& path, const std::string& runtime_target);

}  // namespace edge_ocr
