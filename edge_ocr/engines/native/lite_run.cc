// edge_ocr_lite_run: serves one .nb model over stdin/stdout through the edge_ocr_lite C ABI.
//
// Lets an x86 host run ARM bundles on the real ARM runtime under qemu-aarch64, one process per model, one predictor
// for all calls (as on the device). Protocol (native byte order, which is little-endian on both sides):
//   hello:    "EOL1", int32 status, uint32 length, text (the runtime version, or the error when status != 0)
//   request:  uint32 ndim (0 ends the session), int64 shape[ndim], float32 data[prod(shape)]
//   response: int32 status; then uint32 ndim, int64 shape[ndim], float32 data   (status 0)
//                           or   uint32 length, text                            (status != 0)
// Paddle Lite's own log lines go to stderr: stdout carries the protocol only.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edge_ocr_lite.h"

namespace {

FILE* out = nullptr;

bool read_all(void* dst, size_t n) { return std::fread(dst, 1, n, stdin) == n; }
void write_all(const void* src, size_t n) { std::fwrite(src, 1, n, out); }

void write_text(int32_t status, const std::string& text) {
  uint32_t length = static_cast<uint32_t>(text.size());
  write_all(&status, sizeof status);
  write_all(&length, sizeof length);
  write_all(text.data(), text.size());
  std::fflush(out);
}

}  // namespace

int main(int argc, char** argv) {
  // Keep the protocol stream apart from anything the runtime prints.
  int protocol_fd = dup(1);
  dup2(2, 1);
  out = fdopen(protocol_fd, "wb");
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.nb [THREADS] [POWER_MODE]\n", argv[0]);
    return 2;
  }
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  int power_mode = argc > 3 ? std::atoi(argv[3]) : 0;
  write_all("EOL1", 4);
  eol_predictor* predictor = eol_create_from_file(argv[1], threads, power_mode);
  if (!predictor) {
    write_text(1, eol_last_error());
    return 1;
  }
  write_text(0, eol_runtime_version(predictor));
  std::vector<float> input, output;
  for (;;) {
    uint32_t ndim = 0;
    if (!read_all(&ndim, sizeof ndim) || ndim == 0) break;
    if (ndim > EOL_MAX_DIMS) {
      write_text(1, "request rank too large");
      break;
    }
    int64_t shape[EOL_MAX_DIMS];
    if (!read_all(shape, sizeof(int64_t) * ndim)) break;
    int64_t n = 1;
    for (uint32_t i = 0; i < ndim; ++i) n *= shape[i];
    if (n <= 0 || n > (int64_t{1} << 31)) {
      write_text(1, "request shape out of range");
      break;
    }
    input.resize(static_cast<size_t>(n));
    if (!read_all(input.data(), sizeof(float) * input.size())) break;
    if (eol_set_input(predictor, 0, input.data(), shape, static_cast<int>(ndim)) != 0 || eol_run(predictor) != 0) {
      write_text(1, eol_last_error());
      continue;
    }
    int64_t out_shape[EOL_MAX_DIMS];
    int out_ndim = eol_output_shape(predictor, 0, out_shape, EOL_MAX_DIMS);
    if (out_ndim < 0) {
      write_text(1, eol_last_error());
      continue;
    }
    int64_t m = 1;
    for (int i = 0; i < out_ndim; ++i) m *= out_shape[i];
    output.resize(static_cast<size_t>(m));
    if (eol_copy_output(predictor, 0, output.data(), m) != 0) {
      write_text(1, eol_last_error());
      continue;
    }
    int32_t status = 0;
    uint32_t rank = static_cast<uint32_t>(out_ndim);
    write_all(&status, sizeof status);
    write_all(&rank, sizeof rank);
    write_all(out_shape, sizeof(int64_t) * rank);
    write_all(output.data(), sizeof(float) * output.size());
    std::fflush(out);
  }
  eol_destroy(predictor);
  return 0;
}
