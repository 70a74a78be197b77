#include "paddle_lite_engine.h"

#include <stdexcept>

#if !defined(__ANDROID__)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#endif

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

namespace {

#if !defined(__ANDROID__)
std::string SignalName(int number) {
  switch (number) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    default: return "signal " + std::to_string(number);
  }
}
#endif

// Loads the model once in a forked child, so that damage the verifier cannot judge (an attribute value an op cannot
// take) kills the child, not the caller: a crash there throws one line. A load that fails without crashing is left
// to the real load, which reports Paddle Lite's own reason. Not on Android (no fork in an app's process).
void ProbeLoad(const std::string& nb_path, int threads, int power_mode) {
#if defined(__ANDROID__)
  (void)nb_path, (void)threads, (void)power_mode;
#else
  const pid_t pid = fork();
  if (pid < 0) return;  // cannot isolate it: the load in this process is all there is
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);  // the caller prints the one line; Paddle Lite's log stays here
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    try {
      MobileConfig config;
      config.set_model_from_file(nb_path);
      config.set_threads(threads);
      config.set_power_mode(static_cast<PowerMode>(power_mode));
      _exit(paddle::lite_api::CreatePaddlePredictor<MobileConfig>(config) ? 0 : 3);
    } catch (...) {
      _exit(3);
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  if (WIFSIGNALED(status))
    throw std::runtime_error(nb_path + ": Paddle Lite crashed loading it (" + SignalName(WTERMSIG(status)) +
                             "); the file is damaged or not a model this runtime reads");
#endif
}

}  // namespace

PaddleLiteEngine::PaddleLiteEngine(const std::string& nb_path, int threads, int power_mode, bool isolate_first_load) {
  // Paddle Lite crashes or aborts the process on a damaged file: verify all of it, and its kernels' target, first.
  VerifyNbFile(nb_path, kRuntimeTarget);
  if (isolate_first_load) ProbeLoad(nb_path, threads, power_mode);
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
