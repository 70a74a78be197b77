#include "paddle_lite_engine.h"

#include <stdexcept>

#include "nb_verify.h"
#include "paddle_api.h"

namespace edge_ocr {

using paddle::lite_api::MobileConfig;
using paddle::lite_api::PowerMode;

// The hardware target of the Paddle Lite library this file is built against.
#if defined(__aarch64__) || defined(__arm__)
constexpr const char* kRuntimeTarget = "arm";
#else
constexpr const char* kRuntimeTarget = "x86";
#endif

PaddleLiteEngine::PaddleLiteEngine(const std::string& nb_path, int threads, int power_mode) {
  // Paddle Lite crashes or aborts the process on a damaged file: verify all of it, and its kernels' target, first.
  VerifyNbFile(nb_path, kRuntimeTarget);
  MobileConfig config;
  config.set_model_from_file(nb_path);
  config.set_threads(threads);
  config.set_power_mode(static_cast<PowerMode>(power_mode));
  predictor_ = paddle::lite_api::CreatePaddlePredictor<MobileConfig>(config);
  if (!predictor_) throw std::runtime_error("cannot load " + nb_path);
}

Tensor PaddleLiteEngine::Run(const Tensor& input) {
  auto in = predictor_->GetInput(0);
  in->Resize(input.shape);
  std::copy(input.data.begin(), input.data.end(), in->mutable_data<float>());
  predictor_->Run();
  auto out = predictor_->GetOutput(0);
  Tensor result{out->shape(), {}};
  const float* data = out->data<float>();
  result.data.assign(data, data + result.numel());
  return result;
}

std::string PaddleLiteEngine::Version() const { return predictor_->GetVersion(); }

}  // namespace edge_ocr
