// JNI bridge between org.edgeocr.demo.OcrEngine and the C++ core (android_demo/cpp/src): ARGB pixels in,
// UTF-8 JSON out ({"lines": [{"box", "text", "score"}], "timings_ms": {...}}). Errors become Java exceptions.
#include <jni.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "ocr_core.h"
#include "paddle_lite_engine.h"

namespace {

struct Session {
  std::unique_ptr<edge_ocr::Pipeline> pipeline;
};

void ThrowJava(JNIEnv* env, const char* what) {
  jclass cls = env->FindClass("java/lang/RuntimeException");
  if (cls != nullptr) env->ThrowNew(cls, what);
}

std::string ToString(JNIEnv* env, jstring value) {
  const char* chars = env->GetStringUTFChars(value, nullptr);
  std::string out(chars == nullptr ? "" : chars);
  if (chars != nullptr) env->ReleaseStringUTFChars(value, chars);
  return out;
}

// Android's ARGB_8888 ints (0xAARRGGBB) to the BGR image the core expects, as OpenCV's imread would give.
cv::Mat ArgbToBgr(const jint* argb, int width, int height) {
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const uint32_t p = static_cast<uint32_t>(argb[static_cast<size_t>(y) * width + x]);
      row[x] = cv::Vec3b(p & 0xFF, (p >> 8) & 0xFF, (p >> 16) & 0xFF);
    }
  }
  return bgr;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_edgeocr_demo_OcrEngine_nativeCreate(JNIEnv* env, jclass, jstring bundle_dir,
                                                                      jint threads, jint power_mode,
                                                                      jboolean use_cls, jboolean force) {
  try {
    edge_ocr::Manifest m = edge_ocr::LoadManifest(ToString(env, bundle_dir));
    m.params.use_cls = m.params.use_cls && use_cls;
    auto det = std::make_shared<edge_ocr::PaddleLiteEngine>(m.det_file, threads, power_mode);
    edge_ocr::CheckOptVersion(m, det->Version(), force);
    std::shared_ptr<edge_ocr::Engine> cls;
    if (m.params.use_cls) cls = std::make_shared<edge_ocr::PaddleLiteEngine>(m.cls_file, threads, power_mode);
    auto rec = std::make_shared<edge_ocr::PaddleLiteEngine>(m.rec_file, threads, power_mode);
    auto session = std::make_unique<Session>();
    session->pipeline = std::make_unique<edge_ocr::Pipeline>(
        m.params, det, cls, rec, edge_ocr::LoadCharset(m.dictionary_file, m.params.use_space_char));
    return reinterpret_cast<jlong>(session.release());
  } catch (const std::exception& e) {
    ThrowJava(env, e.what());
    return 0;
  }
}

JNIEXPORT jbyteArray JNICALL Java_org_edgeocr_demo_OcrEngine_nativeRun(JNIEnv* env, jclass, jlong handle,
                                                                        jintArray argb, jint width, jint height) {
  try {
    auto* session = reinterpret_cast<Session*>(handle);
    if (session == nullptr) throw std::runtime_error("engine closed");
    if (width <= 0 || height <= 0 || env->GetArrayLength(argb) != static_cast<jsize>(width) * height) {
      throw std::runtime_error("pixel array does not match the image size");
    }
    jint* pixels = env->GetIntArrayElements(argb, nullptr);
    cv::Mat bgr = ArgbToBgr(pixels, width, height);
    env->ReleaseIntArrayElements(argb, pixels, JNI_ABORT);
    edge_ocr::Timings t;
    const auto start = std::chrono::steady_clock::now();
    const auto lines = session->pipeline->Run(bgr, &t);
    const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json out{{"lines", nlohmann::json::array()},
                       {"timings_ms", {{"det", t.det_ms}, {"cls", t.cls_ms}, {"rec", t.rec_ms}, {"total", total}}}};
    for (const auto& line : lines) {
      nlohmann::json box = nlohmann::json::array();
      for (const auto& p : line.box) box.push_back({p.x, p.y});
      out["lines"].push_back({{"box", box}, {"text", line.text}, {"score", line.score}});
    }
    const std::string text = out.dump();
    jbyteArray bytes = env->NewByteArray(static_cast<jsize>(text.size()));
    env->SetByteArrayRegion(bytes, 0, static_cast<jsize>(text.size()), reinterpret_cast<const jbyte*>(text.data()));
    return bytes;
  } catch (const std::exception& e) {
    ThrowJava(env, e.what());
    return nullptr;
  }
}

JNIEXPORT void JNICALL Java_org_edgeocr_demo_OcrEngine_nativeRelease(JNIEnv*, jclass, jlong handle) {
  delete reinterpret_cast<Session*>(handle);
}

}  // extern "C"
