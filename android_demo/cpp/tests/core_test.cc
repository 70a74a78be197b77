// Replays the model outputs the Python runtime recorded on real images through the C++ core and checks that
// the core builds the same inputs (within tolerance), calls the models in the same order, and ends with the
// same boxes (within 1 px) and identical texts. Usage: core_test GOLDEN_DIR
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "ocr_core.h"
#include "sha256.h"

using edge_ocr::Tensor;

namespace {

Tensor ReadTensor(const std::string& path, const std::vector<int64_t>& shape) {
  Tensor t{shape, {}};
  t.data.resize(t.numel());
  std::ifstream f(path, std::ios::binary);
  if (!f.read(reinterpret_cast<char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * sizeof(float))))
    throw std::runtime_error("cannot read " + path);
  return t;
}

struct Call {
  std::string in, out;
  std::vector<int64_t> in_shape, out_shape;
};

class ReplayEngine : public edge_ocr::Engine {
 public:
  ReplayEngine(std::string name, std::string dir, float tol) : name_(std::move(name)), dir_(std::move(dir)), tol_(tol) {}
  void Add(const Call& call) { calls_.push_back(call); }
  Tensor Run(const Tensor& input) override {
    if (calls_.empty()) throw std::runtime_error(name_ + ": the core made more calls than the Python runtime");
    Call call = calls_.front();
    calls_.pop_front();
    if (input.shape != call.in_shape) throw std::runtime_error(name_ + ": input shape differs from the Python runtime's");
    Tensor expected = ReadTensor(dir_ + "/" + call.in, call.in_shape);
    double worst = 0;
    size_t off = 0;
    for (size_t i = 0; i < expected.data.size(); ++i) {
      const double d = std::fabs(expected.data[i] - input.data[i]);
      worst = std::max(worst, d);
      off += d > tol_;
    }
    max_diff = std::max(max_diff, worst);
    // OpenCV builds may round a few resized/warped pixels differently; more than 1% of values off is a real drift.
    if (off > expected.data.size() / 100)
      throw std::runtime_error(name_ + ": " + std::to_string(off) + " input values differ from the Python runtime's");
    return ReadTensor(dir_ + "/" + call.out, call.out_shape);
  }
  bool Done() const { return calls_.empty(); }
  double max_diff = 0;

 private:
  std::string name_, dir_;
  float tol_;
  std::deque<Call> calls_;
};

}  // namespace

// SHA-256 against FIPS 180-4 / NIST vectors, and the parameter rules the pipeline relies on.
int SelfTest() {
  int failed = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::cout << "FAIL " << what << "\n";
      ++failed;
    }
  };
  const std::pair<std::string, std::string> vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
      {std::string(55, 'x'), ""}, {std::string(56, 'x'), ""}, {std::string(64, 'x'), ""}};
  for (const auto& [text, digest] : vectors) {
    const std::string got = edge_ocr::Sha256Hex(text);
    if (!digest.empty()) expect(got == digest, "sha256 of " + std::to_string(text.size()) + " bytes: " + got);
    edge_ocr::Sha256 pieces;  // fed byte by byte: the same digest
    for (char c : text.substr(0, 4096)) pieces.Update(&c, 1);
    expect(text.size() > 4096 || pieces.HexDigest() == got, "sha256 fed in pieces");
  }
  edge_ocr::ValidateParams(edge_ocr::Params{});
  for (int bad : {0, -1, 257}) {
    edge_ocr::Params p;
    p.rec_batch = bad;
    try {
      edge_ocr::ValidateParams(p);
      expect(false, "rec batch " + std::to_string(bad) + " accepted");
    } catch (const std::runtime_error& e) {
      expect(std::string(e.what()).find("rec.batch_size must be an integer from 1 to 256") != std::string::npos,
             e.what());
    }
  }
  edge_ocr::Params zero;
  zero.cls_batch = 0;
  try {  // the pipeline itself refuses what would loop forever
    edge_ocr::Pipeline pipeline(zero, nullptr, nullptr, nullptr, {});
    expect(false, "a pipeline with cls batch 0 was built");
  } catch (const std::runtime_error&) {
  }
  // The det input stays within the contract's area and side caps, whatever the limit type and the image's shape.
  for (const char* type : {"max", "min", "resize_long"}) {
    for (const auto& [h, w] : {std::pair<int, int>{300, 12000}, {12000, 300}, {8000, 6000}, {40, 40}}) {
      edge_ocr::DetParams det;
      det.limit_type = type;
      det.limit_side_len = 1536;
      const auto t = edge_ocr::PreprocessDet(cv::Mat::zeros(h, w, CV_8UC3), det);
      const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(edge_ocr::contract::kLimitMaxDetPixels)));
      expect(t.shape[2] * t.shape[3] <= (side + 16) * (side + 16) &&
                 std::max(t.shape[2], t.shape[3]) <= edge_ocr::contract::kLimitMaxDetSide + 16,
             std::string("det input ") + std::to_string(t.shape[2]) + "x" + std::to_string(t.shape[3]) + " for " +
                 type);
    }
  }
  std::cout << (failed ? "selftest failed" : "selftest ok") << "\n";
  return failed ? 1 : 0;
}

// --load-bundle DIR [IMAGE]: the gates edge_ocr_cli passes before any model loads (LoadManifest: the contract, names,
// sha256 and regular files; LoadCharset; LoadImage with the manifest's max_image_pixels). One line on stderr on error.
int LoadGates(int argc, char** argv) {
  try {
    if (std::string(argv[1]) == "--load-image") {
      const int64_t max_pixels = argc > 3 ? std::stoll(argv[3]) : edge_ocr::contract::kDefaultMaxImagePixels;
      const auto image = edge_ocr::LoadImage(argv[2], max_pixels);
      if (!image.warning.empty()) std::cerr << "core_test: warning: " << edge_ocr::OneLine(image.warning) << "\n";
      std::cout << image.bgr.cols << "x" << image.bgr.rows << " of " << image.width << "x" << image.height
                << " scale " << image.scale << "\n";
      return 0;
    }
    const edge_ocr::Manifest m = edge_ocr::LoadManifest(argv[2]);
    const auto charset = edge_ocr::LoadCharset(m.dictionary_file, m.params.use_space_char);
    std::cout << "ok " << m.files.size() << " files, " << charset.size() << " classes\n";
    if (argc > 3) {
      const auto image = edge_ocr::LoadImage(argv[3], m.params.max_image_pixels);
      if (!image.warning.empty()) std::cerr << "core_test: warning: " << edge_ocr::OneLine(image.warning) << "\n";
      std::cout << image.bgr.cols << "x" << image.bgr.rows << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "core_test: error: " << edge_ocr::OneLine(e.what()) << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: core_test GOLDEN_DIR | --check-nb FILE | --selftest | --load-bundle DIR [IMAGE] | "
                 "--load-image FILE [MAX_PIXELS]\n";
    return 2;
  }
  if (std::string(argv[1]) == "--selftest") return SelfTest();
  if ((std::string(argv[1]) == "--load-bundle" || std::string(argv[1]) == "--load-image") && argc >= 3)
    return LoadGates(argc, argv);
  if (std::string(argv[1]) == "--check-nb" && argc == 3) {  // the .nb structure check alone, for the host tests
    try {
      edge_ocr::CheckNbFile(argv[2]);
    } catch (const std::runtime_error& e) {
      std::cout << "refused: " << e.what() << "\n";
      return 1;
    }
    std::cout << "ok\n";
    return 0;
  }
  const std::string golden = argv[1];
  int passed = 0, failed = 0;
  auto fail = [&](const std::string& what) {
    std::cout << "FAIL " << what << "\n";
    ++failed;
  };
  // The manifest and dictionary of a real bundle drive every parameter.
  // The golden folder holds the manifest and the dictionary, not the models: the contract without the file checks.
  std::ifstream manifest_file(golden + "/manifest.json");
  const std::string manifest_text((std::istreambuf_iterator<char>(manifest_file)), std::istreambuf_iterator<char>());
  edge_ocr::Manifest manifest = edge_ocr::ParseManifest(manifest_text, golden);
  auto charset = edge_ocr::LoadCharset(manifest.dictionary_file, manifest.params.use_space_char);
  // The version rule (check_versions in edge_ocr/engines/lite.py): same major.minor passes, a commit warns, any other
  // release is refused unless forced.
  edge_ocr::Manifest v213 = manifest;
  v213.opt_version = "v2.13-rc";
  try {
    edge_ocr::CheckOptVersion(v213, "v2.12", false);
    fail("opt version check accepted runtime v2.12 for opt v2.13-rc");
  } catch (const std::runtime_error&) {
    ++passed;
  }
  for (const char* same : {"v2.13-rc", "2.13rc0", "v2.13.1", "v2.13"})
    if (!edge_ocr::CheckOptVersion(v213, same, false).empty()) fail(std::string("warned for runtime ") + same);
  if (edge_ocr::CheckOptVersion(v213, "044ba5b", false).find("is a commit") == std::string::npos)
    fail("no warning for a runtime that is a commit");
  if (edge_ocr::CheckOptVersion(v213, "v2.12", true).empty()) fail("a forced mismatch gave no warning");

  nlohmann::json index;
  std::ifstream(golden + "/cases.json") >> index;
  for (const auto& name : index) {
    const std::string dir = golden + "/" + name.get<std::string>();
    nlohmann::json meta;
    std::ifstream(dir + "/meta.json") >> meta;
    std::map<std::string, std::shared_ptr<ReplayEngine>> engines;
    for (const char* role : {"det", "cls", "rec"}) engines[role] = std::make_shared<ReplayEngine>(role, dir, 0.02f);
    for (const auto& c : meta["calls"]) {
      engines[c["model"]]->Add({c["in"], c["out"], c["in_shape"].get<std::vector<int64_t>>(),
                                c["out_shape"].get<std::vector<int64_t>>()});
    }
    cv::Mat image = cv::imread(dir + "/image.png", cv::IMREAD_COLOR);
    edge_ocr::Pipeline pipeline(manifest.params, engines["det"], engines["cls"], engines["rec"], charset);
    std::vector<edge_ocr::Line> lines;
    try {
      lines = pipeline.Run(image);
    } catch (const std::exception& e) {
      fail(name.get<std::string>() + ": " + e.what());
      continue;
    }
    bool ok = true;
    for (const auto& [role, engine] : engines) {
      if (!engine->Done()) {
        fail(name.get<std::string>() + ": " + role + " was called fewer times than in Python");
        ok = false;
      }
    }
    const auto& expected = meta["lines"];
    if (expected.size() != lines.size()) {
      fail(name.get<std::string>() + ": " + std::to_string(lines.size()) + " lines, Python has " +
           std::to_string(expected.size()));
      continue;
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto& e = expected[i];
      if (e["text"].get<std::string>() != lines[i].text) {
        fail(name.get<std::string>() + ": text '" + lines[i].text + "' vs '" + e["text"].get<std::string>() + "'");
        ok = false;
      }
      for (int k = 0; k < 4; ++k) {
        const float dx = std::fabs(lines[i].box[k].x - e["box"][k][0].get<float>());
        const float dy = std::fabs(lines[i].box[k].y - e["box"][k][1].get<float>());
        if (dx > 1.0f || dy > 1.0f) {
          fail(name.get<std::string>() + ": box corner off by more than 1 px");
          ok = false;
          break;
        }
      }
      if (std::fabs(lines[i].score - e["score"].get<float>()) > 1e-4f) {
        fail(name.get<std::string>() + ": score differs");
        ok = false;
      }
    }
    if (ok) {
      ++passed;
      std::cout << "ok   " << name.get<std::string>() << ": " << lines.size() << " lines, max input diff det "
                << engines["det"]->max_diff << " rec " << engines["rec"]->max_diff << "\n";
    }
  }
  // The first case again with one classifier label: the recorded classifier outputs 2 classes, so its label index
  // could point past cls.labels; the pipeline must refuse instead of reading outside the vector.
  if (!index.empty()) {
    const std::string dir = golden + "/" + index[0].get<std::string>();
    nlohmann::json meta;
    std::ifstream(dir + "/meta.json") >> meta;
    std::map<std::string, std::shared_ptr<ReplayEngine>> engines;
    for (const char* role : {"det", "cls", "rec"}) engines[role] = std::make_shared<ReplayEngine>(role, dir, 0.02f);
    bool calls_cls = false;
    for (const auto& c : meta["calls"]) {
      engines[c["model"]]->Add({c["in"], c["out"], c["in_shape"].get<std::vector<int64_t>>(),
                                c["out_shape"].get<std::vector<int64_t>>()});
      calls_cls = calls_cls || c["model"] == "cls";
    }
    edge_ocr::Params one_label = manifest.params;
    one_label.cls_labels = {"0"};
    edge_ocr::Pipeline pipeline(one_label, engines["det"], engines["cls"], engines["rec"], charset);
    try {
      pipeline.Run(cv::imread(dir + "/image.png", cv::IMREAD_COLOR));
      fail("a classifier of 2 classes ran with 1 label");
    } catch (const std::runtime_error& e) {
      if (calls_cls && std::string(e.what()).find("cls.labels has 1") != std::string::npos) {
        ++passed;
        std::cout << "ok   classifier labels bounds-checked: " << e.what() << "\n";
      } else {
        fail(std::string("label check: ") + e.what());
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
