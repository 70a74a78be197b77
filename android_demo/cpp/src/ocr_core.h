// edge-ocr core: PP-OCRv2 pre/post-processing shared by the Android app and the ARM Linux CLI.
// Every parameter comes from a bundle's manifest.json (the same numbers the Python runtime uses);
// inference goes through the Engine interface, so everything here builds and is tested without Paddle Lite.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace edge_ocr {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

// One model behind one function: NCHW float32 in, first output out.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual Tensor Run(const Tensor& input) = 0;
};

struct DetParams {
  int limit_side_len = 960;
  std::string limit_type = "max";
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> stdev{0.229f, 0.224f, 0.225f};
  float scale = 1.0f / 255.0f;
  float thresh = 0.3f, box_thresh = 0.6f, unclip_ratio = 1.5f;
  int max_candidates = 1000, min_size = 3;
  std::string score_mode = "fast";
  bool use_dilation = false;
};

struct Params {
  DetParams det;
  float rotate_ratio = 1.5f;
  std::array<int, 3> cls_shape{3, 48, 192};
  int cls_batch = 6;
  float cls_thresh = 0.9f;
  std::vector<std::string> cls_labels{"0", "180"};
  std::array<int, 3> rec_shape{3, 32, 320};
  int rec_batch = 6;
  float drop_score = 0.5f;
  bool use_space_char = true;
  bool use_cls = true;
};

struct Manifest {
  Params params;
  std::string opt_version, target, det_file, cls_file, rec_file, dictionary_file;
};

// Reads BUNDLE/manifest.json. Throws std::runtime_error with a one-line reason.
Manifest LoadManifest(const std::string& bundle_dir);
// The opt/runtime version rule of the Python runtime (edge_ocr/engines/lite.py, check_versions): the same major.minor
// release passes (v2.13-rc, 2.13rc0, v2.13.1); a runtime that names a commit (a build between releases, e.g. 044ba5b)
// cannot be compared and gets a warning; any other release pair throws, unless `force`. Returns the warning, or "".
std::string CheckOptVersion(const Manifest& manifest, const std::string& runtime_version, bool force);
// Refuses a .nb that CheckNbFile refuses, or whose kernels are for another hardware target than `runtime_target`
// ("arm", "x86"): Paddle Lite would fail on it with an unrelated message. Reads each op's kernel from the program.
void CheckNbTarget(const std::string& path, const std::string& runtime_target);
std::vector<std::string> LoadCharset(const std::string& path, bool use_space_char);
// Refuses a file that is not a complete, consistent Paddle Lite naive-buffer model, which Paddle Lite itself would crash
// or abort the process on: the whole file verified against edge_ocr/engines/nb_format.json (nb_verify.h/.cc).
void CheckNbFile(const std::string& path);

using Quad = std::array<cv::Point2f, 4>;

struct Line {
  Quad box;
  std::string text;
  float score = 0.f;
};

// --- stages, each usable on its own (and tested against the Python runtime) ---
Tensor PreprocessDet(const cv::Mat& bgr, const DetParams& p);
std::vector<Quad> DbPostprocess(const Tensor& prob, int src_h, int src_w, const DetParams& p,
                                std::vector<float>* scores = nullptr);
std::vector<int> ReadingOrder(const std::vector<Quad>& boxes, float same_line_px = 10.f);
cv::Mat CropTextLine(const cv::Mat& bgr, const Quad& box, float rotate_ratio);
Tensor ResizeNormPadded(const std::vector<cv::Mat>& crops, const std::vector<int>& ids, int height, int width);
std::vector<std::pair<std::string, float>> CtcGreedyDecode(const Tensor& probs,
                                                           const std::vector<std::string>& charset);

struct Timings {
  double det_ms = 0, cls_ms = 0, rec_ms = 0;
};

class Pipeline {
 public:
  Pipeline(Params params, std::shared_ptr<Engine> det, std::shared_ptr<Engine> cls, std::shared_ptr<Engine> rec,
           std::vector<std::string> charset);
  std::vector<Line> Run(const cv::Mat& bgr, Timings* timings = nullptr);
  const Params& params() const { return params_; }

 private:
  Params params_;
  std::shared_ptr<Engine> det_, cls_, rec_;
  std::vector<std::string> charset_;
};

}  // namespace edge_ocr
