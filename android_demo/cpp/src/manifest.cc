// The bundle contract in the C++ core: manifest.json checked against the schema generated from edge_ocr/config.py
// (bundle_contract.h, the same text as edge_ocr/bundle.schema.json), keyword for keyword and word for word as
// edge_ocr/schema_check.py checks it, then every listed file: a regular file in the bundle folder whose sha256 matches.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle_contract.h"
#include "ocr_core.h"
#include "sha256.h"

namespace edge_ocr {

namespace {

using Json = nlohmann::json;
using Schema = nlohmann::ordered_json;  // schema order is check order, as in Python's dicts

constexpr size_t kMaxShownBytes = 64;

const Schema& RootSchema() {
  static const Schema schema = Schema::parse(contract::kSchemaJson);
  return schema;
}

std::string Kind(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "a list";
    case Json::value_t::object: return "an object";
    default: return "a value";
  }
}

template <typename J>
std::string Show(const J& v) {
  if (v.is_string() && v.template get_ref<const std::string&>().size() > kMaxShownBytes)
    return "a string of " + std::to_string(v.template get_ref<const std::string&>().size()) + " bytes";
  if (v.is_primitive()) return v.dump();
  return v.is_array() ? "a list" : "an object";
}

std::string ShowKey(const std::string& key) { return Show(Json(key)); }

const std::map<std::string, std::string>& TypeText() {
  static const std::map<std::string, std::string> text{{"integer", "an integer"}, {"number", "a number"},
                                                       {"string", "a string"},    {"boolean", "true or false"},
                                                       {"object", "an object"},   {"array", "a list"}};
  return text;
}

bool HasType(const Json& v, const std::string& type) {
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  throw std::logic_error("schema: unknown type " + type);
}

bool IsFileName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == ".." || name == "manifest.json") return false;
  return name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

bool IsSha256(const std::string& text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string FormatText(const std::string& format) {
  if (format == "bundle-file-name") return "a file name inside the bundle folder";
  if (format == "sha256") return "a lowercase hex sha256";
  throw std::logic_error("schema: unknown format " + format);
}

bool FormatOk(const std::string& format, const std::string& value) {
  return format == "bundle-file-name" ? IsFileName(value) : IsSha256(value);
}

std::string RangeText(const Schema& s) {
  const std::string what = TypeText().at(s.at("type").get<std::string>());
  const bool low = s.contains("minimum"), high = s.contains("maximum");
  if (s.contains("exclusiveMinimum")) {
    const std::string bound = "above " + s.at("exclusiveMinimum").dump();
    return high ? what + " " + bound + " and at most " + s.at("maximum").dump() : what + " " + bound;
  }
  if (low && high) return what + " from " + s.at("minimum").dump() + " to " + s.at("maximum").dump();
  if (low) return what + " of at least " + s.at("minimum").dump();
  if (high) return what + " of at most " + s.at("maximum").dump();
  return what;
}

// Exact for integers (int64 or uint64 on either side), IEEE for a number against a bound.
int Compare(const Json& a, const Schema& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    if (a.is_number_unsigned() && a.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return 1;
    if (b.is_number_unsigned() && b.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return -1;
    const int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const double x = a.get<double>(), y = b.get<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool InRange(const Json& v, const Schema& s) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return false;
  if (s.contains("minimum") && Compare(v, s.at("minimum")) < 0) return false;
  if (s.contains("exclusiveMinimum") && Compare(v, s.at("exclusiveMinimum")) <= 0) return false;
  return !(s.contains("maximum") && Compare(v, s.at("maximum")) > 0);
}

bool SameKind(const Json& v, const Schema& option) { return Kind(v) == Kind(Json::parse(option.dump())); }

bool Equal(const Json& v, const Schema& option) { return SameKind(v, option) && v == Json::parse(option.dump()); }

std::string Join(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

[[noreturn]] void Fail(const std::string& message) { throw std::invalid_argument(message); }

void Check(const Schema& schema_in, const Json& value, const std::string& where);

void CheckObject(const Schema& s, const Json& value, const std::string& where) {
  const std::string label = where.empty() ? "the manifest" : where;
  if (s.contains("minProperties") && value.size() < s.at("minProperties").get<size_t>()) Fail(label + " is empty");
  if (s.contains("required")) {
    for (const auto& key : s.at("required"))
      if (!value.contains(key.get<std::string>())) Fail(Join(where, key.get<std::string>()) + " is missing");
  }
  static const Schema kNoProperties = Schema::object();
  const Schema& properties = s.contains("properties") ? s.at("properties") : kNoProperties;
  for (const auto& [key, sub] : properties.items()) {
    const auto found = value.find(key);
    if (found != value.end()) Check(sub, *found, Join(where, key));
  }
  const bool closed = s.contains("additionalProperties") && s.at("additionalProperties").is_boolean() &&
                      !s.at("additionalProperties").get<bool>();
  std::vector<std::string> others;  // Json objects iterate in sorted key order, as Python's sorted()
  for (const auto& item : value.items())
    if (!properties.contains(item.key())) others.push_back(item.key());
  if (closed && !others.empty()) {
    std::string names;
    for (const auto& key : others) names += (names.empty() ? "" : ", ") + ShowKey(key);
    Fail(label + " has unknown key(s) " + names);
  }
  const bool extra = s.contains("additionalProperties") && s.at("additionalProperties").is_object();
  const bool names = s.contains("propertyNames");
  if (!extra && !names) return;
  for (const auto& item : value.items()) {
    if (names) Check(s.at("propertyNames"), Json(item.key()), "a key of " + label);
    if (extra && !properties.contains(item.key()))
      Check(s.at("additionalProperties"), item.value(), label + "[" + ShowKey(item.key()) + "]");
  }
}

void Check(const Schema& schema_in, const Json& value, const std::string& where) {
  const Schema* s = &schema_in;
  if (s->contains("$ref")) {
    const std::string ref = s->at("$ref").get<std::string>();
    const std::string prefix = "#/$defs/";
    if (ref.compare(0, prefix.size(), prefix) != 0) throw std::logic_error("schema: unsupported $ref " + ref);
    s = &RootSchema().at("$defs").at(ref.substr(prefix.size()));
  }
  const std::string label = where.empty() ? "the manifest" : where;
  const std::string type = s->contains("type") ? s->at("type").get<std::string>() : "";
  if (!type.empty() && !HasType(value, type)) Fail(label + " must be " + TypeText().at(type) + ", not " + Kind(value));
  if (s->contains("const") && !Equal(value, s->at("const")))
    Fail(label + " must be " + s->at("const").dump() + ", not " + Show(value));
  if (s->contains("enum")) {
    const auto& options = s->at("enum");
    if (std::none_of(options.begin(), options.end(), [&](const Schema& o) { return Equal(value, o); })) {
      std::string text;
      for (const auto& o : options) text += (text.empty() ? "" : ", ") + (o.is_string() ? o.get<std::string>() : o.dump());
      Fail(label + " must be one of " + text + ", not " + Show(value));
    }
  }
  if ((type == "integer" || type == "number") && !InRange(value, *s))
    Fail(label + " must be " + RangeText(*s) + ", not " + Show(value));
  if (type == "string") {
    const auto& text = value.get_ref<const std::string&>();
    if (s->contains("minLength") && s->at("minLength").get<int>() >= 1 && text.empty()) Fail(label + " is empty");
    if (s->contains("format")) {
      const std::string format = s->at("format").get<std::string>();
      if (!FormatOk(format, text)) Fail(label + " must be " + FormatText(format) + ", not " + Show(value));
    }
  }
  if (type == "array") {
    const size_t low = s->contains("minItems") ? s->at("minItems").get<size_t>() : 0;
    const bool bounded = s->contains("maxItems");
    const size_t high = bounded ? s->at("maxItems").get<size_t>() : 0;
    if (value.size() < low || (bounded && value.size() > high)) {
      const std::string count = low == high && bounded ? std::to_string(low)
                                : bounded ? std::to_string(low) + " to " + std::to_string(high)
                                          : "at least " + std::to_string(low);
      Fail(label + " must be a list of " + count + ", not a list of " + std::to_string(value.size()));
    }
    static const Schema kNoItems = Schema::array();
    const Schema& prefix = s->contains("prefixItems") ? s->at("prefixItems") : kNoItems;
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string at = label + "[" + std::to_string(i) + "]";
      if (i < prefix.size()) Check(prefix[i], value[i], at);
      else if (s->contains("items")) Check(s->at("items"), value[i], at);
    }
  }
  if (type == "object") CheckObject(*s, value, where);
}

// x-listed-in-files: every file the runtime opens is listed in files, so its sha256 is checked.
void CheckListedFiles(const Json& manifest) {
  for (const auto& path : RootSchema().at("x-listed-in-files")) {
    const std::string where = path.get<std::string>();
    const Json* node = &manifest;
    size_t start = 0;
    while (node != nullptr && start <= where.size()) {
      const size_t dot = std::min(where.find('.', start), where.size());
      const std::string key = where.substr(start, dot - start);
      const auto found = node->is_object() ? node->find(key) : node->end();
      node = (node->is_object() && found != node->end()) ? &*found : nullptr;
      start = dot + 1;
    }
    if (node != nullptr && !manifest.at("files").contains(node->get<std::string>()))
      Fail(where + " " + Show(*node) + " is not listed in files, so its sha256 would not be checked");
  }
}

// A value of params, or the schema's default when the manifest leaves it out.
template <typename T>
T Get(const Json& section, const char* key, T fallback) {
  const auto found = section.find(key);
  return found == section.end() ? fallback : found->get<T>();
}

template <typename T, size_t N>
std::array<T, N> GetArray(const Json& section, const char* key, const std::array<T, N>& fallback) {
  const auto found = section.find(key);
  if (found == section.end()) return fallback;
  std::array<T, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = (*found)[i].get<T>();
  return out;
}

Params ReadParams(const Json& p) {
  static const Json kEmpty = Json::object();
  auto section = [&](const char* name) -> const Json& { return p.contains(name) ? p.at(name) : kEmpty; };
  const Json& d = section("det");
  Params out;
  DetParams& det = out.det;
  det.limit_side_len = Get(d, "limit_side_len", det.limit_side_len);
  det.limit_type = Get(d, "limit_type", det.limit_type);
  det.mean = GetArray(d, "mean", det.mean);
  det.stdev = GetArray(d, "std", det.stdev);
  det.scale = Get(d, "scale", det.scale);
  det.thresh = Get(d, "thresh", det.thresh);
  det.box_thresh = Get(d, "box_thresh", det.box_thresh);
  det.unclip_ratio = Get(d, "unclip_ratio", det.unclip_ratio);
  det.max_candidates = Get(d, "max_candidates", det.max_candidates);
  det.min_size = Get(d, "min_size", det.min_size);
  det.score_mode = Get(d, "score_mode", det.score_mode);
  det.use_dilation = Get(d, "use_dilation", det.use_dilation);
  out.rotate_ratio = Get(section("crop"), "rotate_ratio", out.rotate_ratio);
  const Json& c = section("cls");
  out.cls_shape = GetArray(c, "image_shape", out.cls_shape);
  out.cls_batch = Get(c, "batch_size", out.cls_batch);
  out.cls_thresh = Get(c, "thresh", out.cls_thresh);
  out.cls_labels = Get(c, "labels", out.cls_labels);
  const Json& r = section("rec");
  out.rec_shape = GetArray(r, "image_shape", out.rec_shape);
  out.rec_batch = Get(r, "batch_size", out.rec_batch);
  out.drop_score = Get(r, "drop_score", out.drop_score);
  out.use_space_char = Get(r, "use_space_char", out.use_space_char);
  out.use_cls = Get(p, "use_cls", out.use_cls);
  out.max_image_pixels = Get(p, "max_image_pixels", out.max_image_pixels);
  return out;
}

}  // namespace

std::string OneLine(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

Json ParamsToJson(const Params& p) {
  // float -> double as the manifest's JSON numbers become floats in ReadParams.
  auto triple = [](const auto& a) { return Json::array({a[0], a[1], a[2]}); };
  return Json{{"det",
               {{"limit_side_len", p.det.limit_side_len}, {"limit_type", p.det.limit_type}, {"mean", triple(p.det.mean)},
                {"std", triple(p.det.stdev)}, {"scale", p.det.scale}, {"thresh", p.det.thresh},
                {"box_thresh", p.det.box_thresh}, {"unclip_ratio", p.det.unclip_ratio},
                {"max_candidates", p.det.max_candidates}, {"score_mode", p.det.score_mode},
                {"min_size", p.det.min_size}, {"use_dilation", p.det.use_dilation}}},
              {"crop", {{"rotate_ratio", p.rotate_ratio}}},
              {"cls",
               {{"image_shape", triple(p.cls_shape)}, {"batch_size", p.cls_batch}, {"thresh", p.cls_thresh},
                {"labels", p.cls_labels}}},
              {"rec",
               {{"image_shape", triple(p.rec_shape)}, {"batch_size", p.rec_batch}, {"drop_score", p.drop_score},
                {"use_space_char", p.use_space_char}}},
              {"use_cls", p.use_cls},
              {"max_image_pixels", p.max_image_pixels}};
}

std::string PathJoin(const std::string& dir, const std::string& name) {
  return (!dir.empty() && dir.back() == '/') ? dir + name : dir + "/" + name;
}

// Reads a regular file of at most `max_bytes` through one descriptor (a FIFO never blocks, a swap is caught).
bool ReadRegularFile(const std::string& path, size_t max_bytes, std::string* out, std::string* why) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open";
    return false;
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || static_cast<uint64_t>(info.st_size) > max_bytes) {
    close(fd);
    *why = "not a regular file of at most " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  out->clear();
  char buffer[1 << 16];
  ssize_t got = 0;
  while ((got = read(fd, buffer, sizeof buffer)) > 0) {
    out->append(buffer, static_cast<size_t>(got));
    if (out->size() > max_bytes) break;
  }
  close(fd);
  if (got < 0 || out->size() > max_bytes) {
    *why = got < 0 ? "cannot read" : "not a regular file of at most " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  return true;
}

// x-files: a regular file in the bundle folder (never followed through a link), whose sha256 is `expected`.
void CheckBundleFile(const std::string& dir, const std::string& name, const std::string& expected) {
  const std::string path = PathJoin(dir, name);
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) throw std::runtime_error("bundle " + dir + " lacks " + ShowKey(name));
  if (!S_ISREG(info.st_mode))
    throw std::runtime_error("bundle " + dir + ": " + ShowKey(name) + " is not a regular file (links are refused)");
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("bundle " + dir + ": " + ShowKey(name) + " is not a regular file (links are refused)");
  }
  Sha256 hash;
  char buffer[1 << 16];
  ssize_t got = 0;
  while ((got = read(fd, buffer, sizeof buffer)) > 0) hash.Update(buffer, static_cast<size_t>(got));
  close(fd);
  if (got < 0) throw std::runtime_error("bundle " + dir + ": cannot read " + ShowKey(name));
  if (hash.HexDigest() != expected)
    throw std::runtime_error("bundle " + dir + ": " + ShowKey(name) +
                             " does not match its sha256 in the manifest (damaged or edited)");
}

}  // namespace

void ValidateManifestJson(const std::string& text) {
  Json manifest;
  try {
    manifest = Json::parse(text);
  } catch (const Json::exception& e) {
    throw std::invalid_argument("unreadable manifest (" + std::string(e.what()) + ")");
  }
  Check(RootSchema(), manifest, "");
  CheckListedFiles(manifest);
}

void ValidateParams(const Params& params) {
  try {
    Check(RootSchema().at("properties").at("params"), ParamsToJson(params), "");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("bad pipeline parameter: ") + e.what());
  }
}

Manifest ParseManifest(const std::string& text, const std::string& bundle_dir) {
  const std::string where = PathJoin(bundle_dir, "manifest.json") + ": ";
  Json m;
  try {
    m = Json::parse(text);
  } catch (const Json::exception& e) {
    throw std::runtime_error(where + "unreadable manifest (" + std::string(e.what()) + ")");
  }
  Manifest out;
  try {
    Check(RootSchema(), m, "");
    CheckListedFiles(m);
    out.params = ReadParams(m.at("params"));
    // The numbers as the core holds them (float): a value that only a double holds in range (1e-50 as det.std) is
    // refused here rather than becoming 0.
    Check(RootSchema().at("properties").at("params"), ParamsToJson(out.params), "params");
    out.params.use_cls = out.params.use_cls && m.at("models").contains("cls");
    out.opt_version = m.at("opt_version").get<std::string>();
    out.target = m.at("target").get<std::string>();
    const auto& models = m.at("models");
    out.det_file = PathJoin(bundle_dir, models.at("det").at("file").get<std::string>());
    out.rec_file = PathJoin(bundle_dir, models.at("rec").at("file").get<std::string>());
    if (models.contains("cls")) out.cls_file = PathJoin(bundle_dir, models.at("cls").at("file").get<std::string>());
    out.dictionary_file = PathJoin(bundle_dir, m.at("dictionary").at("file").get<std::string>());
    for (const auto& item : m.at("files").items()) out.files.emplace_back(item.key(), item.value().get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(where + e.what());
  } catch (const Json::exception& e) {  // cannot happen after the schema check; a message, never a crash
    throw std::runtime_error(where + "bad field (" + std::string(e.what()) + ")");
  }
  out.bundle_dir = bundle_dir;
  return out;
}

Manifest LoadManifest(const std::string& bundle_dir) {
  struct stat info {};
  if (stat(bundle_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw std::runtime_error("bundle folder " + bundle_dir + " does not exist");
  const std::string path = PathJoin(bundle_dir, "manifest.json");
  if (stat(path.c_str(), &info) != 0 || S_ISDIR(info.st_mode))
    throw std::runtime_error(bundle_dir + " is not a bundle: no manifest.json");
  std::string text, why;
  if (!ReadRegularFile(path, static_cast<size_t>(contract::kLimitMaxManifestBytes), &text, &why))
    throw std::runtime_error(path + ": " + why);
  Manifest manifest = ParseManifest(text, bundle_dir);
  for (const auto& [name, digest] : manifest.files) CheckBundleFile(bundle_dir, name, digest);
  return manifest;
}

}  // namespace edge_ocr
