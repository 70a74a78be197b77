// The C ABI of edge_ocr_lite.h over Paddle Lite's MobileConfig light API. No exception crosses the boundary.
#include "edge_ocr_lite.h"

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "nb_verify.h"
#include "paddle_api.h"

using paddle::lite_api::MobileConfig;
using paddle::lite_api::PaddlePredictor;
using paddle::lite_api::PowerMode;

struct eol_predictor {
  std::shared_ptr<PaddlePredictor> predictor;
  std::string version;
};

namespace {

// The target of the Paddle Lite library this file is built against (a model for another one is refused by name).
#if defined(__aarch64__) || defined(__arm__)
constexpr const char* kRuntimeTarget = "arm";
#else
constexpr const char* kRuntimeTarget = "x86";
#endif

thread_local std::string last_error;

int fail(const std::string& message) {
  last_error = message;
  return -1;
}

bool valid_settings(int threads, int power_mode) {
  if (threads < 1) return fail("threads must be at least 1, got " + std::to_string(threads)), false;
  if (power_mode < 0 || power_mode > 3) return fail("power_mode must be 0..3, got " + std::to_string(power_mode)), false;
  return true;
}

eol_predictor* create(MobileConfig& config, int threads, int power_mode, const std::string& what) {
  config.set_threads(threads);
  config.set_power_mode(static_cast<PowerMode>(power_mode));
  try {
    auto predictor = paddle::lite_api::CreatePaddlePredictor<MobileConfig>(config);
    if (!predictor) {
      fail("Paddle Lite could not load " + what);
      return nullptr;
    }
    auto* handle = new eol_predictor{predictor, predictor->GetVersion()};
    last_error.clear();
    return handle;
  } catch (const std::exception& e) {
    fail("Paddle Lite could not load " + what + ": " + e.what());
  } catch (...) {
    fail("Paddle Lite could not load " + what);
  }
  return nullptr;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

extern "C" {

int eol_abi_version(void) { return EOL_ABI_VERSION; }

const char* eol_last_error(void) { return last_error.c_str(); }

eol_predictor* eol_create_from_file(const char* nb_path, int threads, int power_mode) {
  if (!nb_path) return fail("no model path"), nullptr;
  if (!valid_settings(threads, power_mode)) return nullptr;
  try {  // Paddle Lite crashes or aborts the process on a damaged file: verify all of it first
    edge_ocr::VerifyNbFile(nb_path, kRuntimeTarget);
  } catch (const std::exception& e) {
    return fail(e.what()), nullptr;
  }
  MobileConfig config;
  config.set_model_from_file(nb_path);
  return create(config, threads, power_mode, nb_path);
}

eol_predictor* eol_create_from_buffer(const void* data, size_t size, int threads, int power_mode) {
  if (!data || size == 0) return fail("empty model buffer"), nullptr;
  if (!valid_settings(threads, power_mode)) return nullptr;
  try {
    edge_ocr::VerifyNbBuffer(data, size);
  } catch (const std::exception& e) {
    return fail(std::string("a model buffer of ") + std::to_string(size) + " bytes: " + e.what()), nullptr;
  }
  MobileConfig config;
  config.set_model_from_buffer(static_cast<const char*>(data), size);
  return create(config, threads, power_mode, "a model buffer of " + std::to_string(size) + " bytes");
}

void eol_destroy(eol_predictor* predictor) { delete predictor; }

const char* eol_runtime_version(eol_predictor* predictor) {
  return predictor ? predictor->version.c_str() : "";
}

int eol_input_count(eol_predictor* predictor) {
  if (!predictor) return fail("no predictor");
  try {
    return static_cast<int>(predictor->predictor->GetInputNames().size());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int eol_output_count(eol_predictor* predictor) {
  if (!predictor) return fail("no predictor");
  try {
    return static_cast<int>(predictor->predictor->GetOutputNames().size());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int eol_set_input(eol_predictor* predictor, int index, const float* data, const int64_t* shape, int ndim) {
  if (!predictor || !data || !shape) return fail("null argument to eol_set_input");
  if (ndim < 1 || ndim > EOL_MAX_DIMS) return fail("input rank must be 1.." + std::to_string(EOL_MAX_DIMS));
  int inputs = eol_input_count(predictor);
  if (index < 0 || index >= inputs) return fail("no input " + std::to_string(index));
  std::vector<int64_t> dims(shape, shape + ndim);
  for (int64_t d : dims) {
    if (d <= 0) return fail("input dimensions must be positive");
  }
  try {
    auto tensor = predictor->predictor->GetInput(index);
    tensor->Resize(dims);
    std::memcpy(tensor->mutable_data<float>(), data, sizeof(float) * numel(dims));
  } catch (const std::exception& e) {
    return fail(std::string("cannot set input: ") + e.what());
  }
  return 0;
}

int eol_run(eol_predictor* predictor) {
  if (!predictor) return fail("no predictor");
  try {
    predictor->predictor->Run();
  } catch (const std::exception& e) {
    return fail(std::string("run failed: ") + e.what());
  }
  return 0;
}

int eol_output_shape(eol_predictor* predictor, int index, int64_t* shape, int max_dims) {
  if (!predictor || !shape) return fail("null argument to eol_output_shape");
  if (index < 0 || index >= eol_output_count(predictor)) return fail("no output " + std::to_string(index));
  try {
    auto dims = predictor->predictor->GetOutput(index)->shape();
    if (static_cast<int>(dims.size()) > max_dims) return fail("output rank exceeds the caller's buffer");
    for (size_t i = 0; i < dims.size(); ++i) shape[i] = dims[i];
    return static_cast<int>(dims.size());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int eol_copy_output(eol_predictor* predictor, int index, float* dst, int64_t capacity) {
  if (!predictor || !dst) return fail("null argument to eol_copy_output");
  if (index < 0 || index >= eol_output_count(predictor)) return fail("no output " + std::to_string(index));
  try {
    auto tensor = predictor->predictor->GetOutput(index);
    int64_t n = numel(tensor->shape());
    if (n > capacity) return fail("output has " + std::to_string(n) + " floats, buffer " + std::to_string(capacity));
    std::memcpy(dst, tensor->data<float>(), sizeof(float) * n);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}

}  // extern "C"
