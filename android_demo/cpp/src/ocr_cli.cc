// ARM Linux / Raspberry Pi command line on the same core:
//   edge_ocr_cli BUNDLE_DIR IMAGE [--threads N] [--power-mode 0..3] [--no-cls] [--force]
// prints JSON: {"image", "lines": [{"box", "text", "score"}], "timings_ms": {"det", "cls", "rec", "total"}}.
// A bundle written by another opt release than the library's is refused unless --force (CheckOptVersion).
// The bundle must keep its contract (LoadManifest) and the image its bounds (LoadImage) before any model loads.
#include <chrono>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

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
  if (threads < 1 || threads > 64 || power_mode < 0 || power_mode > 3) {
    std::cerr << "edge_ocr_cli: error: --threads must be 1 to 64 and --power-mode 0 to 3\n";
    return 2;
  }
  try {
    // The bundle contract and the image bounds before any model is loaded: schema, names, sha256, regular files.
    edge_ocr::Manifest m = edge_ocr::LoadManifest(argv[1]);
    m.params.use_cls = m.params.use_cls && use_cls;
    const edge_ocr::LoadedImage loaded = edge_ocr::LoadImage(argv[2], m.params.max_image_pixels);
    if (!loaded.warning.empty()) std::cerr << "edge_ocr_cli: warning: " << edge_ocr::OneLine(loaded.warning) << "\n";
    const cv::Mat& image = loaded.bgr;
    auto det = std::make_shared<edge_ocr::PaddleLiteEngine>(m.det_file, threads, power_mode, true);
    const std::string warning = edge_ocr::CheckOptVersion(m, det->Version(), force);
    if (!warning.empty()) std::cerr << "edge_ocr_cli: warning: " << warning << "\n";
    std::shared_ptr<edge_ocr::Engine> cls;
    if (m.params.use_cls) cls = std::make_shared<edge_ocr::PaddleLiteEngine>(m.cls_file, threads, power_mode, true);
    auto rec = std::make_shared<edge_ocr::PaddleLiteEngine>(m.rec_file, threads, power_mode, true);
    edge_ocr::Pipeline pipeline(m.params, det, cls, rec, edge_ocr::LoadCharset(m.dictionary_file, m.params.use_space_char));
    edge_ocr::Timings t;
    auto start = std::chrono::steady_clock::now();
    auto lines = pipeline.Run(image, &t);
    const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json out{{"image", argv[2]}, {"lines", nlohmann::json::array()},
                       {"timings_ms", {{"det", t.det_ms}, {"cls", t.cls_ms}, {"rec", t.rec_ms}, {"total", total}}}};
    for (const auto& line : lines) {
      nlohmann::json box = nlohmann::json::array();
      for (const auto& p : line.box)  // in the original image's pixels when it was decoded at reduced size
        box.push_back({static_cast<int>(p.x * loaded.scale), static_cast<int>(p.y * loaded.scale)});
      out["lines"].push_back({{"box", box}, {"text", line.text}, {"score", line.score}});
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // any file name
  } catch (const std::exception& e) {
    std::cerr << "edge_ocr_cli: error: " << edge_ocr::OneLine(e.what()) << "\n";
    return 1;
  }
  return 0;
}
