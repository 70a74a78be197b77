// edge-ocr core: PP-OCRv2 pre/post-processing shared by the Android app and the ARM Linux CLI.
// Every parameter comes from a bundle's manifest.json (the same numbers the Python runtime uses);
// inference goes through the Engine interface, so everything here builds and is tested without Paddle Lite.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "bundle_contract.h"

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

// Every default is the schema's (bundle_contract.h, generated from edge_ocr/config.py): written once, in Python.
struct DetParams {
  int limit_side_len = contract::kDefaultDetLimitSideLen;
  std::string limit_type = contract::kDefaultDetLimitType;
  std::array<float, 3> mean = contract::kDefaultDetMean;
  std::array<float, 3> stdev = contract::kDefaultDetStd;
  float scale = contract::kDefaultDetScale;
  float thresh = contract::kDefaultDetThresh, box_thresh = contract::kDefaultDetBoxThresh,
        unclip_ratio = contract::kDefaultDetUnclipRatio;
  int max_candidates = contract::kDefaultDetMaxCandidates, min_size = contract::kDefaultDetMinSize;
  std::string score_mode = contract::kDefaultDetScoreMode;
  bool use_dilation = contract::kDefaultDetUseDilation;
};

struct Params {
  DetParams det;
  float rotate_ratio = contract::kDefaultCropRotateRatio;
  std::array<int, 3> cls_shape = contract::kDefaultClsImageShape;
  int cls_batch = contract::kDefaultClsBatchSize;
  float cls_thresh = contract::kDefaultClsThresh;
  std::vector<std::string> cls_labels{contract::kDefaultClsLabels.begin(), contract::kDefaultClsLabels.end()};
  std::array<int, 3> rec_shape = contract::kDefaultRecImageShape;
  int rec_batch = contract::kDefaultRecBatchSize;
  float drop_score = contract::kDefaultRecDropScore;
  bool use_space_char = contract::kDefaultRecUseSpaceChar;
  bool use_cls = contract::kDefaultUseCls;
  int64_t max_image_pixels = contract::kDefaultMaxImagePixels;  // a manifest may lower it, never raise it
};

struct Manifest {
  Params params;
  std::string bundle_dir, opt_version, target, det_file, cls_file, rec_file, dictionary_file;
  std::vector<std::pair<std::string, std::string>> files;  // name, sha256
};

// The bundle contract (manifest.cc): the schema generated from edge_ocr/config.py, checked as the Python runtime
// checks it (edge_ocr/schema_check.py), with the same one-line reasons.
// Parses and checks manifest.json's text (no file is opened): types, ranges, unknown keys, file names inside the
// bundle, every model and the dictionary listed in files. Throws std::runtime_error "BUNDLE/manifest.json: reason".
Manifest ParseManifest(const std::string& text, const std::string& bundle_dir);
// Throws std::invalid_argument with the reason alone (the fuzz target's entry point).
void ValidateManifestJson(const std::string& text);
// `text` with control characters (newline, ESC, ...) written as \xNN: every message the core prints is one line.
std::string OneLine(const std::string& text);
// Refuses parameters outside the schema's ranges (Params built by hand; a batch of 0 would never end).
void ValidateParams(const Params& params);
// Reads BUNDLE/manifest.json (a regular file of at most 1 MiB), ParseManifest, then checks every file listed in files:
// a regular file in the bundle folder (no link, FIFO, device or folder) whose sha256 is the listed one.
Manifest LoadManifest(const std::string& bundle_dir);

// Images with the Python runtime's bounds (image_io.cc): a regular file of at most 256 MiB; JPEG, PNG or BMP whose
// header size is read as the decoder reads it; above max_pixels a JPEG is decoded at 1/2, 1/4 or 1/8 size (scale
// maps its pixels back to the original's) and anything else is refused; decoder memory and progressive scans bounded.
struct LoadedImage {
  cv::Mat bgr;
  double scale = 1.0;             // original pixels per decoded pixel
  int64_t width = 0, height = 0;  // the original size (EXIF orientation applied)
  std::string warning;            // "" or one line (reduced decoding, the decoder's own complaint)
};
LoadedImage LoadImage(const std::string& path, int64_t max_pixels);
LoadedImage DecodeImage(const std::string& data, const std::string& name, int64_t max_pixels);
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
