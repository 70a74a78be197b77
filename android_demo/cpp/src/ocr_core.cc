#include "ocr_core.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <stdexcept>

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <polyclipping/clipper.hpp>

namespace edge_ocr {

int64_t Tensor::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

// ------------------------------------------------------------------------------------------- manifest

// LoadManifest, ParseManifest and ValidateParams are in manifest.cc; LoadImage in image_io.cc.

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "major.minor" of "v2.13-rc", "2.13rc0" or "v2.13.1"; "" when the text does not start with a release number.
std::string Release(const std::string& version) {
  size_t i = (!version.empty() && version[0] == 'v') ? 1 : 0;
  const size_t major = i;
  while (i < version.size() && IsDigit(version[i])) ++i;
  if (i == major || i == version.size() || version[i] != '.') return "";
  const size_t minor = ++i;
  while (i < version.size() && IsDigit(version[i])) ++i;
  return i == minor ? "" : version.substr(major, i - major);
}

bool IsCommit(const std::string& version) {
  return version.size() >= 7 && version.size() <= 40 && std::all_of(version.begin(), version.end(), [](char c) {
           const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
           return IsDigit(lower) || (lower >= 'a' && lower <= 'f');
         });
}

}  // namespace

std::string CheckOptVersion(const Manifest& manifest, const std::string& runtime_version, bool force) {
  std::string runtime = runtime_version;
  runtime.erase(0, runtime.find_first_not_of(" \t\r\n"));
  runtime.erase(runtime.find_last_not_of(" \t\r\n") + 1);
  if (runtime.empty()) return "";
  if (IsCommit(runtime))
    return "Paddle Lite runtime " + runtime + " is a commit, not a release: cannot check it against opt " +
           manifest.opt_version;
  const std::string built = Release(manifest.opt_version), running = Release(runtime);
  if (built.empty() || running.empty() || built == running) return "";
  const std::string message = "the bundle was written by opt " + manifest.opt_version + " (release " + built +
                              ") but this Paddle Lite runtime is " + runtime + " (release " + running +
                              "): re-export it with the runtime's opt, or pass --force to try anyway";
  if (!force) throw std::runtime_error(message);
  return message;
}

// The .nb checks (CheckNbFile, CheckNbTarget) are in nb_verify.cc.

std::vector<std::string> LoadCharset(const std::string& path, bool use_space_char) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read dictionary " + path);
  std::vector<std::string> charset{"blank"};
  std::string line;
  while (std::getline(file, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    charset.push_back(line);
  }
  if (use_space_char) charset.push_back(" ");
  return charset;
}

// ------------------------------------------------------------------------------------------- detection

Tensor PreprocessDet(const cv::Mat& bgr_in, const DetParams& p) {
  cv::Mat bgr = bgr_in;
  if (bgr.rows + bgr.cols < 64) {  // tiny images are padded to at least 32x32 first
    cv::Mat padded = cv::Mat::zeros(std::max(32, bgr.rows), std::max(32, bgr.cols), CV_8UC3);
    bgr.copyTo(padded(cv::Rect(0, 0, bgr.cols, bgr.rows)));
    bgr = padded;
  }
  const int h = bgr.rows, w = bgr.cols, limit = p.limit_side_len;
  double ratio = 1.0;
  if (p.limit_type == "max") {
    if (std::max(h, w) > limit) ratio = static_cast<double>(limit) / std::max(h, w);
  } else if (p.limit_type == "min") {
    if (std::min(h, w) < limit) ratio = static_cast<double>(limit) / std::min(h, w);
  } else if (p.limit_type == "resize_long") {
    ratio = static_cast<double>(limit) / std::max(h, w);
  } else {
    throw std::runtime_error("unknown limit_type " + p.limit_type);
  }
  // "min" raises the short side, so a thin strip could ask for a huge input: the long side and the area stay within
  // the contract's bounds, as in edge_ocr/det.py.
  ratio = std::min({ratio, static_cast<double>(contract::kLimitMaxDetSide) / std::max(h, w),
                    std::sqrt(static_cast<double>(contract::kLimitMaxDetPixels) / (static_cast<double>(h) * w))});
  // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
  const int rh = std::max(static_cast<int>(std::nearbyint(static_cast<int>(h * ratio) / 32.0) * 32), 32);
  const int rw = std::max(static_cast<int>(std::nearbyint(static_cast<int>(w * ratio) / 32.0) * 32), 32);
  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(rw, rh));
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v);
      x *= p.scale;
      x -= p.mean[c];
      x /= p.stdev[c];
      lut[c][v] = x;
    }
  }
  Tensor t{{1, 3, rh, rw}, std::vector<float>(static_cast<size_t>(3) * rh * rw)};
  for (int y = 0; y < rh; ++y) {
    const uchar* row = resized.ptr<uchar>(y);
    for (int x = 0; x < rw; ++x) {
      for (int c = 0; c < 3; ++c) t.data[(static_cast<size_t>(c) * rh + y) * rw + x] = lut[c][row[3 * x + c]];
    }
  }
  return t;
}

namespace {

// Minimum-area rectangle as 4 points clockwise from top-left, and its shorter side (PaddleOCR's get_mini_boxes).
Quad MiniBox(const std::vector<cv::Point>& contour, float* short_side) {
  cv::RotatedRect rect = cv::minAreaRect(contour);
  cv::Point2f pts[4];
  rect.points(pts);
  std::vector<cv::Point2f> p(pts, pts + 4);
  std::stable_sort(p.begin(), p.end(), [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  int i1 = 0, i2 = 1, i3 = 2, i4 = 3;
  if (p[1].y > p[0].y) { i1 = 0; i4 = 1; } else { i1 = 1; i4 = 0; }
  if (p[3].y > p[2].y) { i2 = 2; i3 = 3; } else { i2 = 3; i3 = 2; }
  *short_side = std::min(rect.size.width, rect.size.height);
  return {p[i1], p[i2], p[i3], p[i4]};
}

float BoxScoreFast(const cv::Mat& prob, const Quad& box) {
  const int h = prob.rows, w = prob.cols;
  float minx = box[0].x, maxx = box[0].x, miny = box[0].y, maxy = box[0].y;
  for (const auto& q : box) {
    minx = std::min(minx, q.x); maxx = std::max(maxx, q.x);
    miny = std::min(miny, q.y); maxy = std::max(maxy, q.y);
  }
  const int xmin = std::clamp(static_cast<int>(std::floor(minx)), 0, w - 1);
  const int xmax = std::clamp(static_cast<int>(std::ceil(maxx)), 0, w - 1);
  const int ymin = std::clamp(static_cast<int>(std::floor(miny)), 0, h - 1);
  const int ymax = std::clamp(static_cast<int>(std::ceil(maxy)), 0, h - 1);
  cv::Mat mask = cv::Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, CV_8UC1);
  std::vector<cv::Point> poly;
  for (const auto& q : box) poly.emplace_back(static_cast<int>(q.x - xmin), static_cast<int>(q.y - ymin));
  std::vector<std::vector<cv::Point>> polys{poly};
  cv::fillPoly(mask, polys, cv::Scalar(1));
  return static_cast<float>(cv::mean(prob(cv::Rect(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1)), mask)[0]);
}

float BoxScoreSlow(const cv::Mat& prob, const std::vector<cv::Point>& contour) {
  cv::Rect r = cv::boundingRect(contour) & cv::Rect(0, 0, prob.cols, prob.rows);
  cv::Mat mask = cv::Mat::zeros(r.height, r.width, CV_8UC1);
  std::vector<cv::Point> shifted;
  for (const auto& q : contour) shifted.emplace_back(q.x - r.x, q.y - r.y);
  std::vector<std::vector<cv::Point>> polys{shifted};
  cv::fillPoly(mask, polys, cv::Scalar(1));
  return static_cast<float>(cv::mean(prob(r), mask)[0]);
}

bool Unclip(const Quad& box, float ratio, std::vector<cv::Point>* out) {
  double area = 0, perimeter = 0;
  for (int i = 0; i < 4; ++i) {
    const cv::Point2f& a = box[i];
    const cv::Point2f& b = box[(i + 1) % 4];
    area += static_cast<double>(a.x) * b.y - static_cast<double>(a.y) * b.x;
    perimeter += std::hypot(static_cast<double>(b.x) - a.x, static_cast<double>(b.y) - a.y);
  }
  area = std::fabs(area) * 0.5;
  if (perimeter <= 0) return false;
  ClipperLib::Path path;
  for (const auto& q : box) path.emplace_back(static_cast<ClipperLib::cInt>(q.x), static_cast<ClipperLib::cInt>(q.y));
  ClipperLib::ClipperOffset offset;
  offset.AddPath(path, ClipperLib::jtRound, ClipperLib::etClosedPolygon);
  ClipperLib::Paths solution;
  offset.Execute(solution, area * ratio / perimeter);
  if (solution.size() != 1) return false;  // the offset split or vanished
  out->clear();
  for (const auto& q : solution[0]) out->emplace_back(static_cast<int>(q.X), static_cast<int>(q.Y));
  return true;
}

Quad OrderClockwise(const Quad& pts) {
  int smin = 0, smax = 0;
  for (int i = 1; i < 4; ++i) {
    if (pts[i].x + pts[i].y < pts[smin].x + pts[smin].y) smin = i;
    if (pts[i].x + pts[i].y > pts[smax].x + pts[smax].y) smax = i;
  }
  std::vector<cv::Point2f> rest;
  for (int i = 0; i < 4; ++i)
    if (i != smin && i != smax) rest.push_back(pts[i]);
  if (rest.size() < 2) rest.push_back(rest.empty() ? pts[0] : rest[0]);
  int dmin = 0, dmax = 0;
  for (int i = 1; i < static_cast<int>(rest.size()); ++i) {
    if (rest[i].y - rest[i].x < rest[dmin].y - rest[dmin].x) dmin = i;
    if (rest[i].y - rest[i].x > rest[dmax].y - rest[dmax].x) dmax = i;
  }
  return {pts[smin], rest[dmin], pts[smax], rest[dmax]};
}

float Norm(const cv::Point2f& a, const cv::Point2f& b) {
  const float dx = a.x - b.x, dy = a.y - b.y;
  return std::sqrt(dx * dx + dy * dy);
}

}  // namespace

std::vector<Quad> DbPostprocess(const Tensor& prob_t, int src_h, int src_w, const DetParams& p,
                                std::vector<float>* scores) {
  if (prob_t.shape.size() != 4 || prob_t.shape[0] != 1 || prob_t.shape[1] != 1 || prob_t.shape[2] < 1 ||
      prob_t.shape[3] < 1 || prob_t.numel() != static_cast<int64_t>(prob_t.data.size()))
    throw std::runtime_error("the detector's output is not [1, 1, height, width]");
  const int height = static_cast<int>(prob_t.shape[2]), width = static_cast<int>(prob_t.shape[3]);
  cv::Mat prob(height, width, CV_32FC1, const_cast<float*>(prob_t.data.data()));
  cv::Mat bitmap = prob > p.thresh;  // 0 / 255
  if (p.use_dilation) cv::dilate(bitmap, bitmap, cv::Mat::ones(2, 2, CV_8UC1));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bitmap, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  std::vector<Quad> boxes;
  const size_t n = std::min(contours.size(), static_cast<size_t>(p.max_candidates));
  for (size_t i = 0; i < n; ++i) {
    float side = 0;
    Quad box = MiniBox(contours[i], &side);
    if (side < p.min_size) continue;
    const float score = p.score_mode == "fast" ? BoxScoreFast(prob, box) : BoxScoreSlow(prob, contours[i]);
    if (p.box_thresh > score) continue;
    std::vector<cv::Point> expanded;
    if (!Unclip(box, p.unclip_ratio, &expanded)) continue;
    Quad grown = MiniBox(expanded, &side);
    if (side < p.min_size + 2) continue;
    Quad out;
    for (int k = 0; k < 4; ++k) {
      // float32 arithmetic and half-to-even rounding, as numpy does on the float32 box.
      const float x = std::nearbyint(grown[k].x / static_cast<float>(width) * static_cast<float>(src_w));
      const float y = std::nearbyint(grown[k].y / static_cast<float>(height) * static_cast<float>(src_h));
      out[k] = cv::Point2f(static_cast<float>(static_cast<int>(std::clamp(x, 0.f, static_cast<float>(src_w)))),
                           static_cast<float>(static_cast<int>(std::clamp(y, 0.f, static_cast<float>(src_h)))));
    }
    // Order, clip to the image and drop boxes 3 px or thinner.
    Quad q = OrderClockwise(out);
    for (auto& pt : q) {
      pt.x = std::floor(std::clamp(pt.x, 0.f, static_cast<float>(src_w - 1)));
      pt.y = std::floor(std::clamp(pt.y, 0.f, static_cast<float>(src_h - 1)));
    }
    if (static_cast<int>(Norm(q[0], q[1])) <= 3 || static_cast<int>(Norm(q[0], q[3])) <= 3) continue;
    boxes.push_back(q);
    if (scores) scores->push_back(score);
  }
  return boxes;
}

std::vector<int> ReadingOrder(const std::vector<Quad>& boxes, float same_line_px) {
  std::vector<int> order(boxes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (boxes[a][0].y != boxes[b][0].y) return boxes[a][0].y < boxes[b][0].y;
    return boxes[a][0].x < boxes[b][0].x;
  });
  for (int i = 0; i + 1 < static_cast<int>(order.size()); ++i) {
    for (int j = i; j >= 0; --j) {
      const cv::Point2f& upper = boxes[order[j]][0];
      const cv::Point2f& lower = boxes[order[j + 1]][0];
      if (std::fabs(lower.y - upper.y) < same_line_px && lower.x < upper.x) {
        std::swap(order[j], order[j + 1]);
      } else {
        break;
      }
    }
  }
  return order;
}

cv::Mat CropTextLine(const cv::Mat& bgr, const Quad& box, float rotate_ratio) {
  const int w = static_cast<int>(std::max(Norm(box[0], box[1]), Norm(box[2], box[3])));
  const int h = static_cast<int>(std::max(Norm(box[0], box[3]), Norm(box[1], box[2])));
  std::vector<cv::Point2f> src(box.begin(), box.end());
  std::vector<cv::Point2f> dst{{0.f, 0.f}, {static_cast<float>(w), 0.f}, {static_cast<float>(w), static_cast<float>(h)},
                               {0.f, static_cast<float>(h)}};
  cv::Mat m = cv::getPerspectiveTransform(src, dst);
  cv::Mat crop;
  cv::warpPerspective(bgr, crop, m, cv::Size(w, h), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  if (crop.rows * 1.0 / crop.cols >= rotate_ratio) cv::rotate(crop, crop, cv::ROTATE_90_COUNTERCLOCKWISE);
  return crop;
}

Tensor ResizeNormPadded(const std::vector<cv::Mat>& crops, const std::vector<int>& ids, int height, int width) {
  Tensor t{{static_cast<int64_t>(ids.size()), 3, height, width},
           std::vector<float>(ids.size() * 3 * static_cast<size_t>(height) * width, 0.f)};
  for (size_t b = 0; b < ids.size(); ++b) {
    const cv::Mat& img = crops[ids[b]];
    const double ratio = img.cols / static_cast<double>(img.rows);
    const int rw = std::ceil(height * ratio) > width ? width : static_cast<int>(std::ceil(height * ratio));
    cv::Mat resized;
    cv::resize(img, resized, cv::Size(rw, height));
    for (int y = 0; y < height; ++y) {
      const uchar* row = resized.ptr<uchar>(y);
      for (int x = 0; x < rw; ++x) {
        for (int c = 0; c < 3; ++c) {
          float v = static_cast<float>(row[3 * x + c]) / 255.f;
          v -= 0.5f;
          v /= 0.5f;
          t.data[((b * 3 + c) * height + y) * static_cast<size_t>(width) + x] = v;
        }
      }
    }
  }
  return t;
}

std::vector<std::pair<std::string, float>> CtcGreedyDecode(const Tensor& probs,
                                                           const std::vector<std::string>& charset) {
  if (probs.shape.size() != 3 || probs.numel() != static_cast<int64_t>(probs.data.size()) || probs.numel() < 0)
    throw std::runtime_error("the recognizer's output is not [batch, steps, classes]");
  const int64_t n = probs.shape[0], steps = probs.shape[1], classes = probs.shape[2];
  if (classes != static_cast<int64_t>(charset.size())) {
    throw std::runtime_error("dictionary has " + std::to_string(charset.size()) + " classes but the recognizer outputs " +
                             std::to_string(classes) + ": wrong dictionary for this model");
  }
  std::vector<std::pair<std::string, float>> out;
  for (int64_t b = 0; b < n; ++b) {
    std::string text;
    double sum = 0;
    int kept = 0;
    int64_t previous = -1;
    for (int64_t t = 0; t < steps; ++t) {
      const float* row = probs.data.data() + (b * steps + t) * classes;
      const int64_t best = std::max_element(row, row + classes) - row;
      if (best != 0 && best != previous) {
        text += charset[best];
        sum += row[best];
        ++kept;
      }
      previous = best;
    }
    out.emplace_back(text, kept ? static_cast<float>(sum / kept) : 0.f);
  }
  return out;
}

// ------------------------------------------------------------------------------------------- pipeline

namespace {

std::vector<int> StableArgsortByRatio(const std::vector<cv::Mat>& crops, std::vector<double>* ratios) {
  ratios->clear();
  for (const auto& c : crops) ratios->push_back(c.cols / static_cast<double>(c.rows));
  std::vector<int> order(crops.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return (*ratios)[a] < (*ratios)[b]; });
  return order;
}

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Pipeline::Pipeline(Params params, std::shared_ptr<Engine> det, std::shared_ptr<Engine> cls,
                   std::shared_ptr<Engine> rec, std::vector<std::string> charset)
    : params_(std::move(params)), det_(std::move(det)), cls_(std::move(cls)), rec_(std::move(rec)),
      charset_(std::move(charset)) {
  ValidateParams(params_);  // the batch loops below need batch sizes of at least 1, the resizes sane shapes
  if (!det_ || !rec_) throw std::runtime_error("the pipeline needs a det and a rec engine");
}

std::vector<Line> Pipeline::Run(const cv::Mat& bgr, Timings* timings) {
  auto start = std::chrono::steady_clock::now();
  Tensor prob = det_->Run(PreprocessDet(bgr, params_.det));
  std::vector<Quad> found = DbPostprocess(prob, bgr.rows, bgr.cols, params_.det);
  std::vector<Quad> boxes;
  for (int i : ReadingOrder(found)) boxes.push_back(found[i]);
  if (timings) timings->det_ms = Ms(start);
  std::vector<cv::Mat> crops;
  for (const auto& box : boxes) crops.push_back(CropTextLine(bgr, box, params_.rotate_ratio));
  std::vector<double> ratios;
  start = std::chrono::steady_clock::now();
  if (params_.use_cls && cls_ && !crops.empty()) {
    std::vector<int> order = StableArgsortByRatio(crops, &ratios);
    const size_t batch = static_cast<size_t>(params_.cls_batch);
    for (size_t s = 0; s < order.size(); s += batch) {
      std::vector<int> ids(order.begin() + s, order.begin() + std::min(order.size(), s + batch));
      Tensor out = cls_->Run(ResizeNormPadded(crops, ids, params_.cls_shape[1], params_.cls_shape[2]));
      // A label index must name one of cls.labels, and the output must hold a row per crop.
      const int64_t k = out.shape.size() == 2 ? out.shape[1] : -1;
      if (k != static_cast<int64_t>(params_.cls_labels.size()) || out.shape[0] != static_cast<int64_t>(ids.size()) ||
          out.data.size() != ids.size() * static_cast<size_t>(k))
        throw std::runtime_error("the classifier outputs " + std::to_string(k) + " classes but cls.labels has " +
                                 std::to_string(params_.cls_labels.size()));
      for (size_t b = 0; b < ids.size(); ++b) {
        const float* row = out.data.data() + b * k;
        const int64_t label = std::max_element(row, row + k) - row;
        if (params_.cls_labels[label].find("180") != std::string::npos && row[label] > params_.cls_thresh) {
          cv::rotate(crops[ids[b]], crops[ids[b]], cv::ROTATE_180);
        }
      }
    }
  }
  if (timings) timings->cls_ms = Ms(start);
  start = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, float>> texts(crops.size());
  std::vector<int> order = StableArgsortByRatio(crops, &ratios);
  const int height = params_.rec_shape[1];
  const size_t rec_batch = static_cast<size_t>(params_.rec_batch);  // at least 1 (ValidateParams)
  for (size_t s = 0; s < order.size(); s += rec_batch) {
    std::vector<int> ids(order.begin() + s, order.begin() + std::min(order.size(), s + rec_batch));
    double max_ratio = params_.rec_shape[2] / static_cast<double>(height);
    for (int i : ids) max_ratio = std::max(max_ratio, ratios[i]);
    Tensor out = rec_->Run(ResizeNormPadded(crops, ids, height, static_cast<int>(height * max_ratio)));
    auto decoded = CtcGreedyDecode(out, charset_);
    if (decoded.size() != ids.size()) throw std::runtime_error("the recognizer returned a row count unlike its batch");
    for (size_t b = 0; b < ids.size(); ++b) texts[ids[b]] = decoded[b];
  }
  if (timings) timings->rec_ms = Ms(start);
  std::vector<Line> lines;
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (texts[i].second >= params_.drop_score) lines.push_back({boxes[i], texts[i].first, texts[i].second});
  }
  return lines;
}

}  // namespace edge_ocr
