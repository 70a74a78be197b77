// libFuzzer target for the manifest reader (manifest.cc): any bytes as manifest.json. The reader must refuse with a
// std::runtime_error or accept; an accepted manifest must pass ValidateParams and name only files inside the bundle.
// Anything else (another exception, a crash, an ASan or UBSan report, a hang) fails the run.
// Built by -DEDGE_OCR_FUZZ=ON with clang; tests/test_cpp_contract.py runs it for a bounded time.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ocr_core.h"

namespace {

void RequireInside(const std::string& path) {
  const std::string prefix = "bundle/";
  if (path.empty()) return;  // no cls model
  const std::string name = path.substr(prefix.size());
  if (path.compare(0, prefix.size(), prefix) != 0 || name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    edge_ocr::ValidateManifestJson(text);
  } catch (const std::invalid_argument&) {
  }
  try {
    const edge_ocr::Manifest m = edge_ocr::ParseManifest(text, "bundle");
    edge_ocr::ValidateParams(m.params);
    for (const std::string* path : {&m.det_file, &m.cls_file, &m.rec_file, &m.dictionary_file}) RequireInside(*path);
    if (m.params.rec_batch < 1 || m.params.cls_batch < 1) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
