// The only file that talks to Paddle Lite: load a .nb, set threads and power mode, run, read the output.
#pragma once

#include <memory>
#include <string>

#include "ocr_core.h"

namespace paddle {
namespace lite_api {
class PaddlePredictor;
}
}  // namespace paddle

namespace edge_ocr {

class PaddleLiteEngine : public Engine {
 public:
  // power_mode: 0 HIGH, 1 LOW, 2 FULL, 3 NO_BIND (Paddle Lite's PowerMode). The file is verified (nb_verify.h)
  // before Paddle Lite reads it; isolate_first_load also loads it once in a forked child first (POSIX, not Android),
  // so that a crash on damage the verifier cannot judge is an exception, at the cost of a second load.
  PaddleLiteEngine(const std::string& nb_path, int threads, int power_mode, bool isolate_first_load = false);
  Tensor Run(const Tensor& input) override;
  std::string Version() const;  // the Paddle Lite library version, compared with the manifest's opt_version

 private:
  std::shared_ptr<paddle::lite_api::PaddlePredictor> predictor_;
};

}  // namespace edge_ocr
