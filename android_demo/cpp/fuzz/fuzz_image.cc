// libFuzzer target for the core's image reader (image_io.cc): any bytes as an image file. The header readers (the
// libjpeg-compatible marker walk, PNG's IHDR, BMP's info header) and the decode must refuse with a std::runtime_error
// or return an image of at most max_pixels; anything else (a crash, a sanitizer report, a hang, more memory than the
// limit implies) fails the run. A small pixel limit keeps every decode small, so the run explores the readers.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ocr_core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = 1 << 16;
  try {
    const auto image = edge_ocr::DecodeImage(std::string(reinterpret_cast<const char*>(data), size), "fuzz", kMaxPixels);
    if (image.bgr.empty() || static_cast<int64_t>(image.bgr.total()) > kMaxPixels || image.scale < 1.0)
      __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
