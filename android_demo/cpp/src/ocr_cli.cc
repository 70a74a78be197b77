// ARM Linux / Raspberry Pi command line on the same core:
//   edge_ocr_cli BUNDLE_DIR IMAGE [--threads N] [--power-mode 0..3] [--no-cls] [--force]
// prints JSON: {"image", "lines": [{"box", "text", "score"}], "timings_ms": {"det", "cls", "rec", "total"}}.
// A bundle written by another opt release than the library's is refused unless --force (CheckOptVersion).
#include <chrono>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "paddle_lite_engine.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: edge_ocr_cli BUNDLE_DIR IMAGE [--threads N] [--power-mode 0..3] [--no-cls] [--force]\n";
    return 2;
  }
  int threads = 2, power_mode = 0;
  bool use_cls = true, force = false;
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--power-mode") && i + 1 < argc) power_mode = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--no-cls")) use_cls = false;
    else if (!std::strcmp(argv[i], "--force")) force = true;
    else {
      std::cerr << "edge_ocr_cli: error: unknown or incomplete option " << argv[i] << "\n";
      return 2;
    }
  }
  try {
    edge_ocr::Manifest m = edge_ocr::LoadManifest(argv[1]);
    m.params.use_cls = m.params.use_cls && use_cls;
    cv::Mat image = cv::imread(argv[2], cv::IMREAD_COLOR);
    if (image.empty()) throw std::runtime_error(std::string(argv[2]) + ": not an image or unreadable");
    auto det = std::make_shared<edge_ocr::PaddleLiteEngine>(m.det_file, threads, power_mode);
    const std::string warning = edge_ocr::CheckOptVersion(m, det->Version(), force);
    if (!warning.empty()) std::cerr << "edge_ocr_cli: warning: " << warning << "\n";
    std::shared_ptr<edge_ocr::Engine> cls;
    if (m.params.use_cls) cls = std::make_shared<edge_ocr::PaddleLiteEngine>(m.cls_file, threads, power_mode);
    auto rec = std::make_shared<edge_ocr::PaddleLiteEngine>(m.rec_file, threads, power_mode);
    edge_ocr::Pipeline pipeline(m.params, det, cls, rec, edge_ocr::LoadCharset(m.dictionary_file, m.params.use_space_char));
    edge_ocr::Timings t;
    auto start = std::chrono::steady_clock::now();
    auto lines = pipeline.Run(image, &t);
    const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json out{{"image", argv[2]}, {"lines", nlohmann::json::array()},
                       {"timings_ms", {{"det", t.det_ms}, {"cls", t.cls_ms}, {"rec", t.rec_ms}, {"total", total}}}};
    for (const auto& line : lines) {
      nlohmann::json box = nlohmann::json::array();
      for (const auto& p : line.box) box.push_back({static_cast<int>(p.x), static_cast<int>(p.y)});
      out["lines"].push_back({{"box", box}, {"text", line.text}, {"score", line.score}});
    }
    std::cout << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "edge_ocr_cli: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
