// libFuzzer target for the .nb verifier (nb_verify.h): any bytes must end in a verdict, never a crash, a sanitizer
// report or a hang. Built with clang only (cmake -DCMAKE_CXX_COMPILER=clang++ -DEDGE_OCR_FUZZ=ON, target fuzz_nb);
// tests/test_nb_verify.py runs it for a bounded time on real models as the seed corpus.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "nb_verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    edge_ocr::VerifyNbBuffer(data, size);
  } catch (const std::runtime_error&) {
    // a refusal is the expected answer to almost every input
  }
  return 0;
}
