// Image files for the C++ core with the Python runtime's bounds (edge_ocr/images.py; the numbers come from
// bundle_contract.h): regular files only, at most 256 MiB of them; the size read from the header before any pixel is
// allocated; above max_image_pixels a JPEG is decoded at 1/2, 1/4 or 1/8 size and anything else is refused; what the
// decoder holds (a progressive JPEG's coefficients) is bounded; the decoded shape must be the header's.
//
// The JPEG header is read the way libjpeg reads it (jdmarker.c: bytes before a marker are skipped, FF00 is a stuffed
// zero, not a marker, the one SOF before the first SOS gives the size), so that this reader and the decoder cannot
// disagree about the size. PNG's size is IHDR's, which libpng requires to be the first chunk; BMP's is the info header
// OpenCV's own reader uses. Other formats are refused: the core reads JPEG, PNG and BMP.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "bundle_contract.h"
#include "ocr_core.h"

namespace edge_ocr {

namespace {

struct Header {
  int64_t width = 0, height = 0;
  std::string format;
  int channels = 3;
  bool progressive = false;
  int64_t scans = 0;
};

uint32_t Be16(const std::string& d, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(d[at])) << 8) | static_cast<uint8_t>(d[at + 1]);
}

uint32_t Le32(const std::string& d, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(d[at + static_cast<size_t>(i)]);
  return v;
}

class JpegReader {
 public:
  explicit JpegReader(const std::string& data) : d_(data) {}

  // jdmarker.c next_marker(): skip to an FF, swallow fill FFs; FF00 is a stuffed zero, so keep looking.
  int NextMarker() {
    for (;;) {
      if (pos_ >= d_.size()) return -1;
      int c = Byte();
      while (c != 0xFF) {
        if (pos_ >= d_.size()) return -1;
        c = Byte();
      }
      do {
        if (pos_ >= d_.size()) return -1;
        c = Byte();
      } while (c == 0xFF);
      if (c != 0) return c;
    }
  }

  Header Read() {
    Header h;
    h.format = "JPEG";
    pos_ = 2;  // first_marker(): SOI, checked by the caller
    bool saw_sof = false;
    for (;;) {
      const int marker = NextMarker();
      if (marker < 0) throw std::runtime_error("truncated JPEG header");
      if (marker == 0xD8) throw std::runtime_error("damaged JPEG (a second start of image)");
      if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2 || marker == 0xC9 || marker == 0xCA) {
        if (saw_sof) throw std::runtime_error("damaged JPEG (two frame headers)");
        saw_sof = true;
        const size_t start = pos_;
        const uint32_t length = Length();
        if (length < 8 || start + length > d_.size()) throw std::runtime_error("truncated JPEG frame header");
        h.height = Be16(d_, start + 3);
        h.width = Be16(d_, start + 5);
        h.channels = static_cast<uint8_t>(d_[start + 7]);
        if (length != 8 + 3 * static_cast<uint32_t>(h.channels))
          throw std::runtime_error("damaged JPEG (frame header length)");
        h.progressive = marker == 0xC2 || marker == 0xCA;
        pos_ = start + length;
      } else if ((marker >= 0xC3 && marker <= 0xCF) && marker != 0xC4 && marker != 0xCC) {
        throw std::runtime_error("a JPEG coding this runtime does not decode (lossless, hierarchical or JPG)");
      } else if (marker == 0xDA) {
        if (!saw_sof) throw std::runtime_error("damaged JPEG (a scan before the frame header)");
        h.scans = 1 + CountScans();
        return h;
      } else if (marker == 0xD9) {
        throw std::runtime_error("a JPEG without an image");
      } else if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
        continue;  // RSTn and TEM have no parameters
      } else if (marker == 0xC4 || marker == 0xCC || marker == 0xDB || marker == 0xDD || marker == 0xDC ||
                 (marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE) {
        Skip(marker);
      } else {
        throw std::runtime_error("damaged JPEG (unknown marker)");
      }
    }
  }

 private:
  int Byte() { return static_cast<uint8_t>(d_[pos_++]); }

  uint32_t Length() {
    if (pos_ + 2 > d_.size()) throw std::runtime_error("truncated JPEG header");
    const uint32_t length = Be16(d_, pos_);
    pos_ += 2;
    return length;
  }

  // skip_variable(); the tables libjpeg parses (DHT, DQT, DRI, DAC) need at least their length field.
  void Skip(int marker) {
    const uint32_t length = Length();
    const bool table = marker == 0xC4 || marker == 0xDB || marker == 0xDD || marker == 0xCC;
    if (length < 2 && table) throw std::runtime_error("damaged JPEG (table length)");
    const size_t skip = length >= 2 ? length - 2 : 0;
    if (pos_ + skip > d_.size()) throw std::runtime_error("truncated JPEG header");
    pos_ += skip;
  }

  // The scans after the first: each SOS marker the decoder would meet (a progressive JPEG is decoded once per scan).
  int64_t CountScans() {
    int64_t scans = 0;
    Skip(0xDA);
    for (;;) {
      const int marker = NextMarker();
      if (marker < 0 || marker == 0xD9) return scans;
      if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;
      if (marker == 0xDA) ++scans;
      if (pos_ + 2 > d_.size()) return scans;
      const size_t skip = Be16(d_, pos_);
      if (pos_ + skip > d_.size()) return scans;
      pos_ += skip >= 2 ? skip : 2;
    }
  }

  const std::string& d_;
  size_t pos_ = 0;
};

bool ReadHeader(const std::string& d, Header* h) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(d[i]); };
  if (d.size() >= 3 && byte(0) == 0xFF && byte(1) == 0xD8 && byte(2) == 0xFF) {
    *h = JpegReader(d).Read();
    return true;
  }
  static const char kPng[] = "\x89PNG\r\n\x1a\n";
  if (d.size() >= 26 && d.compare(0, 8, kPng, 8) == 0 && d.compare(12, 4, "IHDR") == 0) {
    h->format = "PNG";
    h->width = Be16(d, 16) << 16 | Be16(d, 18);
    h->height = Be16(d, 20) << 16 | Be16(d, 22);
    const int colour = byte(25);
    h->channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
    return true;
  }
  if (d.size() >= 26 && d[0] == 'B' && d[1] == 'M') {
    h->format = "BMP";
    const uint32_t info = Le32(d, 14);
    if (info == 12) {
      h->width = byte(18) | (static_cast<int64_t>(byte(19)) << 8);
      h->height = byte(20) | (static_cast<int64_t>(byte(21)) << 8);
    } else {
      h->width = static_cast<int32_t>(Le32(d, 18));
      const int64_t height = static_cast<int32_t>(Le32(d, 22));
      h->height = height < 0 ? -height : height;  // negative: rows stored top-down
    }
    return true;
  }
  return false;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string Mp(int64_t pixels) { return std::to_string((pixels + 500000) / 1000000) + " MP"; }

// What libjpeg, libpng and OpenCV print on stderr while decoding (corrupt-data notes, imdecode_ warnings) is taken
// off stderr and returned, so that the one line a failure prints stays the only one.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = dup(2);
    if (file_ != nullptr && saved_ >= 0) active_ = dup2(fileno(file_), 2) >= 0;
  }
  std::string Finish() {
    std::string text;
    if (active_) {
      std::fflush(stderr);
      dup2(saved_, 2);
      active_ = false;
      std::rewind(file_);
      char buffer[512];
      const size_t got = std::fread(buffer, 1, sizeof buffer, file_);
      text.assign(buffer, got);
    }
    return text;
  }
  ~StderrCapture() {
    Finish();
    if (saved_ >= 0) close(saved_);
    if (file_ != nullptr) std::fclose(file_);
  }

 private:
  std::FILE* file_ = nullptr;
  int saved_ = -1;
  bool active_ = false;
};

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return line;
}

}  // namespace

LoadedImage DecodeImage(const std::string& data, const std::string& name, int64_t max_pixels) {
  if (data.empty()) throw std::runtime_error(name + ": empty file");
  Header h;
  try {
    if (!ReadHeader(data, &h))
      throw std::runtime_error("not an image the C++ core reads (JPEG, PNG, BMP), or a damaged file");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
  if (h.width < 1 || h.height < 1)
    throw std::runtime_error(name + ": header declares a " + std::to_string(h.width) + "x" +
                             std::to_string(h.height) + " image");
  if (std::max(h.width, h.height) > contract::kLimitMaxImageSide)  // first: the product below cannot overflow
    throw std::runtime_error(name + ": refused: image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                             ", a side above OpenCV's " + std::to_string(contract::kLimitMaxImageSide) + " px limit");
  const int64_t pixels = h.width * h.height;
  const std::string size = std::to_string(h.width) + "x" + std::to_string(h.height) + " (" + Mp(pixels) + ")";
  int64_t factor = 1;
  if (pixels > max_pixels) {
    if (h.format != "JPEG")
      throw std::runtime_error(name + ": refused: image is " + size + ", above the " + Mp(max_pixels) +
                               " limit (only JPEGs are decoded at reduced size); downscale it");
    for (factor = 2; factor < 8 && (h.width / factor) * (h.height / factor) > max_pixels;) factor *= 2;
    if (CeilDiv(h.width, factor) * CeilDiv(h.height, factor) > max_pixels)
      throw std::runtime_error(name + ": refused: image is " + size + ", too large even at 1/8 size");
  }
  const int64_t out_w = CeilDiv(h.width, factor), out_h = CeilDiv(h.height, factor);
  const int64_t codec = h.progressive ? pixels * h.channels * 2 : 0;  // every DCT coefficient, whatever the scale
  const int64_t need = out_w * out_h * 3 + codec;
  if (need > contract::kLimitMaxDecodeBytes)
    throw std::runtime_error(name + ": refused: decoding this " + h.format + " of " + size + " would need about " +
                             std::to_string(need >> 20) + " MiB, above the " +
                             std::to_string(contract::kLimitMaxDecodeBytes >> 20) + " MiB limit");
  // Each scan walks the whole image: the work of a file that repeats a scan thousands of times is bounded (one scan
  // is bounded by the size checks above), as in edge_ocr/images.py.
  if (h.scans > 1 && (h.scans > contract::kLimitMaxJpegScans || h.scans * pixels > contract::kLimitMaxJpegScanPixels))
    throw std::runtime_error(name + ": refused: a JPEG of " + size + " in " + std::to_string(h.scans) +
                             " scans, each of which walks the whole image: above the limit of " +
                             Mp(contract::kLimitMaxJpegScanPixels) + " of scans");
  const int flag = factor == 8   ? cv::IMREAD_REDUCED_COLOR_8
                   : factor == 4 ? cv::IMREAD_REDUCED_COLOR_4
                   : factor == 2 ? cv::IMREAD_REDUCED_COLOR_2
                                 : cv::IMREAD_COLOR;
  LoadedImage out;
  std::string chatter;
  {
    StderrCapture capture;
    try {
      const cv::Mat buffer(1, static_cast<int>(data.size()), CV_8UC1, const_cast<char*>(data.data()));
      out.bgr = cv::imdecode(buffer, flag);
    } catch (const cv::Exception& e) {
      out.bgr.release();
    }
    chatter = capture.Finish();
  }
  if (out.bgr.empty() || out.bgr.type() != CV_8UC3) throw std::runtime_error(name + ": not an image or a damaged/truncated file");
  const bool same = out.bgr.cols == out_w && out.bgr.rows == out_h;
  const bool rotated = out.bgr.cols == out_h && out.bgr.rows == out_w;  // EXIF orientation
  if (!same && !rotated)
    throw std::runtime_error(name + ": damaged " + h.format + ": decoded as " + std::to_string(out.bgr.cols) + "x" +
                             std::to_string(out.bgr.rows) + ", its header says " + std::to_string(out_w) + "x" +
                             std::to_string(out_h));
  out.width = rotated ? h.height : h.width;
  out.height = rotated ? h.width : h.height;
  if (factor > 1) {
    out.scale = static_cast<double>(std::max(h.width, h.height)) / std::max(out.bgr.cols, out.bgr.rows);
    out.warning = name + ": " + size + " is above the " + Mp(max_pixels) + " limit: decoded at 1/" +
                  std::to_string(factor) + " size";
  }
  if (!chatter.empty() && out.warning.empty()) out.warning = name + ": " + FirstLine(chatter);
  return out;
}

LoadedImage LoadImage(const std::string& path, int64_t max_pixels) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": no such file or not readable");
  struct stat info {};
  std::string why;
  if (fstat(fd, &info) != 0) why = "cannot read";
  else if (S_ISDIR(info.st_mode)) why = "is a folder, not an image";
  else if (!S_ISREG(info.st_mode)) why = "not a regular file (a device, FIFO or socket is never read)";
  else if (info.st_size > contract::kLimitMaxImageBytes)
    why = "refused: " + std::to_string(info.st_size >> 20) + " MiB, above the " +
          std::to_string(contract::kLimitMaxImageBytes >> 20) + " MiB file size limit";
  std::string data;
  if (why.empty()) {
    data.reserve(static_cast<size_t>(info.st_size));
    char buffer[1 << 16];
    ssize_t got = 0;
    while ((got = read(fd, buffer, sizeof buffer)) > 0) {
      data.append(buffer, static_cast<size_t>(got));
      if (static_cast<int64_t>(data.size()) > contract::kLimitMaxImageBytes) break;
    }
    if (got < 0) why = "cannot read";
    else if (static_cast<int64_t>(data.size()) > contract::kLimitMaxImageBytes)
      why = "refused: above the " + std::to_string(contract::kLimitMaxImageBytes >> 20) + " MiB file size limit";
  }
  close(fd);
  if (!why.empty()) throw std::runtime_error(path + ": " + why);
  return DecodeImage(data, path, max_pixels);
}

}  // namespace edge_ocr
