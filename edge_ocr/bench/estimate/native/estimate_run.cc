// edge_ocr_estimate_run: runs one Paddle Lite .nb model and marks each measured Predictor::Run() for the bbcount
// qemu plugin (edge_ocr/bench/estimate): `hint #90` before it, `hint #91` after it, NOPs on any ARMv8 core.
//
//   edge_ocr_estimate_run MODEL.nb [--threads N] [--warmup N] [--vars FILE] SHAPE...     SHAPE: 1x3x224x224
//
// For each SHAPE: input 0 resized and filled with 1.0 (as Paddle Lite's benchmark_bin does), N warm-up runs (the
// first run repacks weights and sizes buffers: not part of steady-state latency), then one marked run. Stdout:
//   O <load base hex> <path>                 each loaded object (to map block addresses to a library)
//   S <region> <shape>                       one line per marked run
//   V <region> <var> <precision> <d0,d1,..>  with --vars (one tensor name a line): shape after the marked run
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "paddle_api.h"

using namespace paddle::lite_api;  // NOLINT

namespace {

int print_object(struct dl_phdr_info* info, size_t, void*) {
  std::printf("O %lx %s\n", static_cast<unsigned long>(info->dlpi_addr), info->dlpi_name[0] ? info->dlpi_name : "-");
  return 0;
}

bool parse_shape(const char* text, shape_t* shape) {
  shape->clear();
  for (const char* p = text; *p;) {
    char* end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (end == p || v <= 0) return false;
    shape->push_back(v);
    p = end;
    if (*p == 'x' || *p == ',') ++p;
    else if (*p) return false;
  }
  return !shape->empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.nb [--threads N] [--warmup N] [--vars FILE] SHAPE...\n", argv[0]);
    return 2;
  }
  int threads = 1, warmup = 1;
  std::vector<std::string> vars;
  std::vector<shape_t> shapes;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--threads" || arg == "--warmup" || arg == "--vars") && i + 1 < argc) {
      const char* value = argv[++i];
      if (arg == "--threads") threads = std::atoi(value);
      else if (arg == "--warmup") warmup = std::atoi(value);
      else {
        std::ifstream in(value);
        for (std::string line; std::getline(in, line);)
          if (!line.empty()) vars.push_back(line);
      }
      continue;
    }
    shape_t shape;
    if (!parse_shape(argv[i], &shape)) {
      std::fprintf(stderr, "bad shape '%s'\n", argv[i]);
      return 2;
    }
    shapes.push_back(shape);
  }
  if (shapes.empty()) {
    std::fprintf(stderr, "no input shape\n");
    return 2;
  }
  MobileConfig config;
  config.set_model_from_file(argv[1]);
  config.set_threads(threads);
  config.set_power_mode(LITE_POWER_HIGH);
  std::shared_ptr<PaddlePredictor> predictor = CreatePaddlePredictor<MobileConfig>(config);
  dl_iterate_phdr(print_object, nullptr);
  for (size_t region = 0; region < shapes.size(); ++region) {
    std::unique_ptr<Tensor> input = predictor->GetInput(0);
    input->Resize(shapes[region]);
    int64_t n = 1;
    for (int64_t d : shapes[region]) n *= d;
    float* data = input->mutable_data<float>();
    for (int64_t k = 0; k < n; ++k) data[k] = 1.0f;
    for (int k = 0; k < warmup; ++k) predictor->Run();
    asm volatile("hint #90" ::: "memory");
    predictor->Run();
    asm volatile("hint #91" ::: "memory");
    std::printf("S %zu ", region);
    for (size_t k = 0; k < shapes[region].size(); ++k) std::printf(k ? "x%lld" : "%lld", (long long)shapes[region][k]);
    std::printf("\n");
    for (const std::string& name : vars) {
      std::unique_ptr<const Tensor> t = predictor->GetTensor(name);
      if (!t) continue;
      std::printf("V %zu %s %d ", region, name.c_str(), static_cast<int>(t->precision()));
      shape_t s = t->shape();
      for (size_t k = 0; k < s.size(); ++k) std::printf(k ? ",%lld" : "%lld", (long long)s[k]);
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return 0;
}
