// The .nb verifier of nb_verify.h: the checks of edge_ocr/engines/nb_program.py, driven by the same description
// (nb_format_generated.h, written from edge_ocr/engines/nb_format.json). tests/test_nb_verify.py feeds both the same
// damaged files and requires the same verdicts.
#include "nb_verify.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "nb_format_generated.h"

namespace edge_ocr {

namespace {

namespace fmt = nb_format;
using fmt::FieldDesc;
using fmt::Kind;

// One line whatever the file holds: control bytes in names read from it (or in its path) are written as \xNN.
[[noreturn]] void Throw(const std::string& message) {
  static const char kHex[] = "0123456789abcdef";
  std::string line;
  for (const char c : message) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      line += "\\x";
      line += kHex[u >> 4];
      line += kHex[u & 15];
    } else {
      line += c;
    }
  }
  throw std::runtime_error(line);
}

bool InEnum(int enum_id, int64_t value) {
  const fmt::EnumDesc& e = fmt::kEnums[enum_id];
  for (int i = 0; i < e.count; ++i)
    if (e.values[i] == value) return true;
  return false;
}

// Strict UTF-8, as Python's decoder: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) extra = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) extra = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) extra = 3, cp = c & 0x07, min = 0x10000;
    else return false;
    if (n - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// Flatbuffer tables of the schema, verified the way a flatbuffers Verifier would, each (position, table) once.
class Flat {
 public:
  Flat(const uint8_t* data, size_t size, std::string what) : data_(data), size_(static_cast<int64_t>(size)),
                                                              what_(std::move(what)) {}

  [[noreturn]] void Fail(const std::string& message) const { Throw(what_ + ": " + message); }

  int64_t Root(int table) {
    const int64_t pos = Offset(0, "root offset");
    Table(pos, table, 0);
    return pos;
  }

  // --- reads of what Table() verified ---
  int64_t FieldPos(int64_t table, int index) const {
    const int64_t vtable = table - I32(table);
    const int slots = (U16(vtable) - 4) / 2;
    if (index >= slots) return 0;
    const uint16_t offset = U16(vtable + 4 + 2 * index);
    return offset ? table + offset : 0;
  }
  bool Has(int64_t table, int index) const { return FieldPos(table, index) != 0; }
  int64_t Int(int64_t table, int index, int64_t fallback, fmt::Scalar type = fmt::Scalar::kInt32) const {
    const int64_t at = FieldPos(table, index);
    if (!at) return fallback;
    switch (type) {
      case fmt::Scalar::kBool:
      case fmt::Scalar::kUInt8: return data_[at];
      case fmt::Scalar::kInt64: return I64(at);
      default: return I32(at);
    }
  }
  int64_t Ref(int64_t table, int index) const {
    const int64_t at = FieldPos(table, index);
    return at ? at + U32(at) : 0;
  }
  uint32_t Length(int64_t vector) const { return U32(vector); }
  int64_t Element(int64_t vector, uint32_t k) const {  // the target of a vector of offsets' element k
    const int64_t at = vector + 4 + 4 * static_cast<int64_t>(k);
    return at + U32(at);
  }
  int64_t I64Element(int64_t vector, uint32_t k) const { return I64(vector + 4 + 8 * static_cast<int64_t>(k)); }
  int32_t I32Element(int64_t vector, uint32_t k) const { return I32(vector + 4 + 4 * static_cast<int64_t>(k)); }
  std::string Str(int64_t pos) const { return std::string(reinterpret_cast<const char*>(data_ + pos + 4), U32(pos)); }

 private:
  void Span(int64_t pos, int64_t size, int align, const char* what) const {
    if (pos < 0 || size < 0 || pos + size > size_)
      Fail(std::string(what) + " at " + std::to_string(pos) + " (" + std::to_string(size) +
           " bytes) lies outside the " + std::to_string(size_) + "-byte buffer");
    if (align > 1 && pos % align)
      Fail(std::string(what) + " at " + std::to_string(pos) + " is not " + std::to_string(align) + "-byte aligned");
  }
  uint16_t U16(int64_t pos) const {
    uint16_t v;
    std::memcpy(&v, data_ + pos, 2);
    return v;
  }
  uint32_t U32(int64_t pos) const {
    uint32_t v;
    std::memcpy(&v, data_ + pos, 4);
    return v;
  }
  int32_t I32(int64_t pos) const {
    int32_t v;
    std::memcpy(&v, data_ + pos, 4);
    return v;
  }
  int64_t I64(int64_t pos) const {
    int64_t v;
    std::memcpy(&v, data_ + pos, 8);
    return v;
  }

  int64_t Offset(int64_t pos, const std::string& what) const {
    Span(pos, 4, 4, what.c_str());
    const uint32_t relative = U32(pos);
    if (relative == 0) Fail(what + " at " + std::to_string(pos) + " is a null offset");
    return pos + relative;
  }

  void Count() {
    if (++references_ > fmt::kMaxReferences) Fail("more than " + std::to_string(fmt::kMaxReferences) + " references");
  }

  void Table(int64_t pos, int table, uint64_t depth) {
    Count();
    if (!tables_.insert(std::make_pair(pos, table)).second) return;
    const fmt::TableDesc& desc = fmt::kTables[table];
    const std::string name = desc.name;
    if (depth > fmt::kMaxTableDepth) Fail("tables nested deeper than " + std::to_string(fmt::kMaxTableDepth));
    Span(pos, 4, 4, (name + " table").c_str());
    const int64_t vtable = pos - I32(pos);
    Span(vtable, 4, 2, (name + " vtable").c_str());
    const uint16_t vtable_size = U16(vtable), object_size = U16(vtable + 2);
    if (vtable_size < 4 || vtable_size % 2 || object_size < 4)
      Fail(name + " vtable at " + std::to_string(vtable) + " has sizes " + std::to_string(vtable_size) + "/" +
           std::to_string(object_size));
    Span(vtable, vtable_size, 2, (name + " vtable").c_str());
    Span(pos, object_size, 4, (name + " table").c_str());
    const int slots = (vtable_size - 4) / 2;
    bool previous_present = false;
    int64_t previous = 0;
    for (int index = 0; index < desc.field_count; ++index) {
      const FieldDesc& f = desc.fields[index];
      const uint16_t offset = index < slots ? U16(vtable + 4 + 2 * index) : 0;
      const std::string what = name + "." + f.name;
      if (offset == 0) {
        if (f.required) Fail(what + " is missing");
        previous_present = false;
        continue;
      }
      const int64_t at = pos + offset;
      if (f.kind == Kind::kScalar) {
        const int size = fmt::kScalarBytes[static_cast<int>(f.scalar)];
        if (offset + size > object_size) Fail(what + " lies outside its table");
        Span(at, size, size, what.c_str());
        int64_t value = 0;
        if (f.scalar == fmt::Scalar::kInt32) value = I32(at);
        else if (f.scalar == fmt::Scalar::kUInt8 || f.scalar == fmt::Scalar::kBool) value = data_[at];
        if (f.enum_id >= 0 && !InEnum(f.enum_id, value))
          Fail(what + " is " + std::to_string(value) + ", not a " + fmt::kEnums[f.enum_id].name);
        previous_present = true;
        previous = value;
        continue;
      }
      if (offset + 4 > object_size) Fail(what + " lies outside its table");
      const int64_t target = Offset(at, what);
      switch (f.kind) {
        case Kind::kString: String(target, what); break;
        case Kind::kTable: Table(target, f.table, depth + 1); break;
        case Kind::kUnion:
          if (!previous_present || previous < 1 || previous > f.union_count)
            Fail(what + " has union type " + (previous_present ? std::to_string(previous) : std::string("None")));
          Table(target, f.table + static_cast<int>(previous) - 1, depth + 1);
          break;
        case Kind::kScalars: {
          const int elem = fmt::kScalarBytes[static_cast<int>(f.scalar)];
          Vector(target, elem, what);
          break;
        }
        case Kind::kStrings: {
          const uint32_t count = Vector(target, 4, what);
          for (uint32_t k = 0; k < count; ++k) String(Offset(target + 4 + 4 * int64_t{k}, what), what);
          break;
        }
        case Kind::kTables: {
          const uint32_t count = Vector(target, 4, what);
          for (uint32_t k = 0; k < count; ++k) Table(Offset(target + 4 + 4 * int64_t{k}, what), f.table, depth + 1);
          if (f.sorted_by_key) CheckSorted(target, f.table, what);
          break;
        }
        default: break;
      }
      previous_present = true;
      previous = 0;
    }
  }

  uint32_t Vector(int64_t pos, int elem, const std::string& what) {
    Count();
    Span(pos, 4, 4, (what + " vector").c_str());
    const uint32_t count = U32(pos);
    if (count > fmt::kMaxVectorLength)
      Fail(what + " has " + std::to_string(count) + " elements (limit " + std::to_string(fmt::kMaxVectorLength) + ")");
    Span(pos + 4, int64_t{count} * elem, std::min(elem, 4), (what + " elements").c_str());
    return count;
  }

  void String(int64_t pos, const std::string& what) {
    if (strings_.count(pos)) {
      Count();
      return;
    }
    const uint32_t length = Vector(pos, 1, what);
    if (length > fmt::kMaxStringBytes)
      Fail(what + " is a string of " + std::to_string(length) + " bytes (limit " +
           std::to_string(fmt::kMaxStringBytes) + ")");
    Span(pos + 4, int64_t{length} + 1, 1, (what + " string").c_str());
    const uint8_t* text = data_ + pos + 4;
    if (text[length] != 0 || std::memchr(text, 0, length) != nullptr)
      Fail(what + " string at " + std::to_string(pos) + " is not NUL-terminated or holds a NUL");
    if (!ValidUtf8(text, length)) Fail(what + " string at " + std::to_string(pos) + " is not UTF-8");
    strings_.insert(pos);
  }

  void CheckSorted(int64_t vector, int table, const std::string& what) const {
    const fmt::TableDesc& desc = fmt::kTables[table];
    int key = 0;
    while (!desc.fields[key].key) ++key;
    const uint32_t count = Length(vector);
    for (uint32_t k = 1; k < count; ++k) {
      const std::string before = Str(Ref(Element(vector, k - 1), key)), after = Str(Ref(Element(vector, k), key));
      if (!(before < after))
        Fail(what + " is not sorted by " + desc.fields[key].name + " ('" + before + "' before '" + after +
             "'): Paddle Lite's binary search would miss entries");
    }
  }

  struct PairHash {
    size_t operator()(const std::pair<int64_t, int>& p) const {
      return std::hash<int64_t>()(p.first * 64 + p.second);
    }
  };

  const uint8_t* data_;
  int64_t size_;
  std::string what_;
  uint64_t references_ = 0;
  std::unordered_set<std::pair<int64_t, int>, PairHash> tables_;
  std::unordered_set<int64_t> strings_;
};

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsOpType(const std::string& s) {
  if (s.empty() || s.size() > fmt::kMaxOpTypeBytes || !IsLower(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLower(c) || IsDigit(c) || c == '_'; });
}

// "op/alias/target/precision/layout": fills the op and the three numbers.
bool ParseKernel(const std::string& s, std::string* op, int numbers[3]) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 5 || !IsOpType(parts[0]) || parts[0].size() > s.size()) return false;
  if (parts[1].empty() || !std::all_of(parts[1].begin(), parts[1].end(), [](char c) {
        return IsLower(c) || IsDigit(c) || c == '_' || (c >= 'A' && c <= 'Z');
      }))
    return false;
  for (int k = 0; k < 3; ++k) {
    const std::string& n = parts[2 + k];
    if (n.empty() || n.size() > 2 || !std::all_of(n.begin(), n.end(), IsDigit)) return false;
    numbers[k] = std::stoi(n);
  }
  *op = parts[0];
  return true;
}

// Reads little-endian integers of the file's own layout (header and param records), never past the end.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void Need(uint64_t count, const std::string& what) const {
    if (count > size_ || pos > size_ - count)
      Throw("truncated or damaged Paddle Lite model (" + what + " needs " + std::to_string(count) +
            " bytes at offset " + std::to_string(pos) + ", the file has " + std::to_string(size_) + ")");
  }
  template <typename T>
  T Read(const std::string& what) {
    Need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos, sizeof(T));
    pos += sizeof(T);
    return value;
  }
  uint64_t pos = 0;

 private:
  const uint8_t* data_;
  uint64_t size_;
};

[[noreturn]] void Damaged(const std::string& message) { Throw("damaged Paddle Lite model (" + message + ")"); }

struct Program {
  std::map<std::string, int> params;  // the parameter variables of block 0
};

void CheckOp(const Flat& flat, int64_t op, int index, int block, const std::set<std::string>& visible, int blocks,
             NbInfo* info) {
  const std::string type = flat.Str(flat.Ref(op, fmt::kOpDesc_type));
  const std::string where = "program: op " + std::to_string(index) + " ('" + type + "') of block " +
                            std::to_string(block);
  if (!IsOpType(type)) Throw(where + ": not an op type");
  const int sides[2] = {fmt::kOpDesc_inputs, fmt::kOpDesc_outputs};
  for (int side : sides) {
    const int64_t vars = flat.Ref(op, side);
    for (uint32_t v = 0; v < flat.Length(vars); ++v) {
      const int64_t var = flat.Element(vars, v);
      const int64_t arguments = flat.Ref(var, fmt::kOpVar_arguments);
      if (!arguments) continue;
      if (flat.Length(arguments) > fmt::kMaxArguments)
        Throw(where + ": " + std::to_string(flat.Length(arguments)) + " arguments");
      for (uint32_t a = 0; a < flat.Length(arguments); ++a) {
        const std::string argument = flat.Str(flat.Element(arguments, a));
        if (!visible.count(argument))
          Throw(where + ": " + (side == fmt::kOpDesc_inputs ? "input" : "output") + " '" + argument +
                "' is not a declared variable");
      }
    }
  }
  const int64_t attrs = flat.Ref(op, fmt::kOpDesc_attrs);
  if (flat.Length(attrs) > fmt::kMaxAttrsPerOp) Throw(where + ": " + std::to_string(flat.Length(attrs)) + " attributes");
  bool has_kernel = false;
  std::string kernel;
  for (uint32_t a = 0; a < flat.Length(attrs); ++a) {
    const int64_t attr = flat.Element(attrs, a);
    const std::string name = flat.Str(flat.Ref(attr, fmt::kAttr_name));
    const int64_t type_value = flat.Int(attr, fmt::kAttr_type, 0);  // verified: an AttrType
    const int value_field = fmt::kAttrValueField[type_value];
    if (value_field >= 0 && !flat.Has(attr, value_field))
      Throw(where + ": attribute '" + name + "' of type " + std::to_string(type_value) + " has no value");
    if (type_value == fmt::kAttrType_BLOCK) {
      const int64_t b = flat.Int(attr, fmt::kAttr_block_idx, 0);
      if (b < 0 || b >= blocks) Throw(where + ": attribute '" + name + "' names block " + std::to_string(b));
    }
    if (type_value == fmt::kAttrType_BLOCKS) {
      const int64_t list = flat.Ref(attr, fmt::kAttr_blocks_idx);
      for (uint32_t k = 0; k < flat.Length(list); ++k) {
        const int32_t b = flat.I32Element(list, k);
        if (b < 0 || b >= blocks) Throw(where + ": attribute '" + name + "' names a block that does not exist");
      }
    }
    if (name == fmt::kKernelAttr) {
      if (type_value != fmt::kAttrType_STRING) Throw(where + ": its kernel attribute is not a string");
      has_kernel = true;
      kernel = flat.Str(flat.Ref(attr, fmt::kAttr_s));
    }
  }
  if (!has_kernel) Throw(where + ": no kernel");
  std::string kernel_op;
  int numbers[3] = {0, 0, 0};
  if (!ParseKernel(kernel, &kernel_op, numbers) || kernel_op != type)
    Throw(where + ": kernel '" + kernel + "' is not one for this op");
  const int enums[3] = {fmt::kEnumTargetType, fmt::kEnumPrecisionType, fmt::kEnumDataLayoutType};
  for (int k = 0; k < 3; ++k)
    if (!InEnum(enums[k], numbers[k]))
      Throw(where + ": kernel '" + kernel + "' names " + fmt::kEnums[enums[k]].name + " " +
            std::to_string(numbers[k]) + ", which does not exist");
  if (block == 0) info->kernels.push_back(kernel);
}

Program CheckProgram(const Flat& flat, int64_t root, NbInfo* info) {
  const int64_t blocks = flat.Ref(root, fmt::kProgramDesc_blocks);
  const int count = static_cast<int>(std::min<uint32_t>(flat.Length(blocks), 1u << 30));
  if (count < 1 || static_cast<uint64_t>(count) > fmt::kMaxBlocks)
    Throw("program: " + std::to_string(count) + " blocks (1 to " + std::to_string(fmt::kMaxBlocks) + ")");
  std::vector<std::map<std::string, int64_t>> declared(count);
  std::vector<int64_t> parents(count);
  for (int number = 0; number < count; ++number) {
    const int64_t block = flat.Element(blocks, number);
    const int64_t idx = flat.Int(block, fmt::kBlockDesc_idx, 0);
    if (idx != number) Throw("program: block " + std::to_string(number) + " says it is block " + std::to_string(idx));
    const int64_t parent = flat.Int(block, fmt::kBlockDesc_parent_idx, 0);
    const bool parent_ok = number == 0 ? (parent == -1 || parent == 0) : (parent >= 0 && parent < count && parent != number);
    if (!parent_ok) Throw("program: block " + std::to_string(number) + " has parent " + std::to_string(parent));
    const int64_t forward = flat.Int(block, fmt::kBlockDesc_forward_block_idx, -1);
    if (forward < -1 || forward >= count)
      Throw("program: block " + std::to_string(number) + " has forward block " + std::to_string(forward));
    parents[number] = parent;
    const int64_t vars = flat.Ref(block, fmt::kBlockDesc_vars);
    if (flat.Length(vars) > fmt::kMaxVarsPerBlock)
      Throw("program: block " + std::to_string(number) + " has " + std::to_string(flat.Length(vars)) + " variables");
    for (uint32_t v = 0; v < flat.Length(vars); ++v) {
      const int64_t var = flat.Element(vars, v);
      const std::string name = flat.Str(flat.Ref(var, fmt::kVarDesc_name));
      if (name.empty() || !declared[number].emplace(name, var).second)
        Throw("program: block " + std::to_string(number) + " declares variable '" + name +
              "' twice or without a name");
    }
  }
  for (int number = 0; number < count; ++number) {  // parents form a tree rooted at block 0
    std::set<int64_t> seen;
    for (int64_t at = number; at > 0; at = parents[at])
      if (!seen.insert(at).second) Throw("program: block " + std::to_string(number) + "'s parents loop");
  }
  for (int number = 0; number < count; ++number) {
    std::set<std::string> visible;
    for (int64_t at = number;; at = parents[at]) {
      for (const auto& entry : declared[at]) visible.insert(entry.first);
      if (at <= 0) break;
    }
    const int64_t ops = flat.Ref(flat.Element(blocks, number), fmt::kBlockDesc_ops);
    if (flat.Length(ops) > fmt::kMaxOpsPerBlock)
      Throw("program: block " + std::to_string(number) + " has " + std::to_string(flat.Length(ops)) + " ops");
    for (uint32_t k = 0; k < flat.Length(ops); ++k)
      CheckOp(flat, flat.Element(ops, k), static_cast<int>(k), number, visible, count, info);
  }
  Program program;
  for (const auto& entry : declared[0]) {
    const int64_t var = entry.second;
    const int64_t var_type = flat.Int(flat.Ref(var, fmt::kVarDesc_type), fmt::kVarType_type, 0);
    const bool persistable = flat.Int(var, fmt::kVarDesc_persistable, 0, fmt::Scalar::kBool) != 0;
    bool not_param = false;
    for (int k = 0; k < fmt::kNotParamsCount; ++k) not_param = not_param || var_type == fmt::kNotParams[k];
    if (persistable && !not_param) {
      if (var_type != fmt::kParamVarType)
        Throw("program: persistable variable '" + entry.first + "' has type " + std::to_string(var_type));
      program.params.emplace(entry.first, 0);
    }
  }
  return program;
}

void CheckParams(const uint8_t* data, size_t size, uint64_t pos, Program* program, NbInfo* info) {
  Cursor cursor(data, size);
  cursor.pos = pos;
  cursor.Need(4, "params version");
  const auto params_version = cursor.Read<uint16_t>("params version");
  const auto meta_size = cursor.Read<uint16_t>("params meta size");
  bool known = false;
  for (int k = 0; k < fmt::kParamsVersionCount; ++k) known = known || params_version == fmt::kParamsVersions[k];
  if (!known)
    Damaged("params version " + std::to_string(params_version) + ", expected " +
            std::to_string(fmt::kParamsVersions[0]));
  if (meta_size > fmt::kMaxParamsMetaBytes) Damaged("params meta of " + std::to_string(meta_size) + " bytes");
  cursor.Need(uint64_t{meta_size} + 2, "params meta");
  cursor.pos += meta_size;
  const auto header_size = cursor.Read<uint16_t>("params header size");
  if (header_size != fmt::kParamsHeaderBytes)
    Damaged("params header of " + std::to_string(header_size) + " bytes, expected " +
            std::to_string(fmt::kParamsHeaderBytes));
  cursor.Need(header_size, "params header");
  const uint64_t header_end = cursor.pos + header_size;
  const auto count = cursor.Read<uint16_t>("params header");
  const auto largest = cursor.Read<uint32_t>("params header");
  cursor.pos = header_end;
  std::set<std::string> seen;
  uint64_t biggest = 0;
  for (uint32_t index = 0; index < count; ++index) {
    const std::string label = "param " + std::to_string(index);
    cursor.Need(8, label + " sizes");
    const auto total = cursor.Read<uint32_t>(label + " sizes");
    const auto offset = cursor.Read<uint32_t>(label + " sizes");
    if (offset != static_cast<uint32_t>(fmt::kParamRecordOffset) || uint64_t{total} < uint64_t{offset} + 8)
      Damaged(label + ": size " + std::to_string(total) + ", offset " + std::to_string(offset));
    cursor.pos += offset - 4;
    const uint64_t bytes = total - offset;
    cursor.Need(bytes, label);
    Flat flat(data + cursor.pos, bytes, label);
    int64_t param = 0;
    try {
      param = flat.Root(fmt::kParamRoot);
    } catch (const std::runtime_error& e) {
      Damaged(e.what());
    }
    cursor.pos += bytes;
    const std::string name = flat.Str(flat.Ref(param, fmt::kParamDesc_name));
    if (seen.count(name) || !program->params.count(name))
      Damaged(label + " '" + name + "' is " + (seen.count(name) ? "stored twice" : "not a parameter of the program"));
    seen.insert(name);
    const int64_t tensor = flat.Ref(param, fmt::kParamDesc_variable);
    const int64_t dims = flat.Ref(tensor, fmt::kParamTensorDesc_dim);
    const int64_t data_type = flat.Int(tensor, fmt::kParamTensorDesc_data_type, 0);
    const uint64_t nbytes = flat.Length(flat.Ref(tensor, fmt::kParamTensorDesc_data));
    const int types = static_cast<int>(sizeof(fmt::kParamElementBytes) / sizeof(fmt::kParamElementBytes[0]));
    const int element = data_type >= 0 && data_type < types ? fmt::kParamElementBytes[data_type] : 0;
    if (element == 0) Damaged("param '" + name + "' has data type " + std::to_string(data_type));
    const uint32_t rank = flat.Length(dims);
    std::string shown = "[";
    bool dims_ok = rank <= fmt::kMaxParamRank;
    uint64_t expected = static_cast<uint64_t>(element);
    bool overflow = false;
    for (uint32_t k = 0; k < rank && k < 64; ++k) {
      const int64_t d = flat.I64Element(dims, k);
      shown += (k ? ", " : "") + std::to_string(d);
      if (d < 1 || static_cast<uint64_t>(d) > fmt::kMaxParamDim) dims_ok = false;
      else if (expected > size / static_cast<uint64_t>(d) + 1) overflow = true;
      else expected *= static_cast<uint64_t>(d);
    }
    shown += "]";
    if (!dims_ok) Damaged("param '" + name + "' has dims " + shown);
    if (overflow || expected != nbytes)
      Damaged("param '" + name + "': dims " + shown + " need " + (overflow ? std::string("more") : std::to_string(expected)) +
              " bytes, it holds " + std::to_string(nbytes));
    biggest = std::max(biggest, nbytes);
    ++info->params;
  }
  size_t missing = 0;
  std::string first;
  for (const auto& entry : program->params)
    if (!seen.count(entry.first) && !missing++) first = entry.first;
  if (missing)
    Damaged(std::to_string(missing) + " parameters of the program are not stored, '" + first + "' first (" +
            std::to_string(count) + " stored)");
  if (largest != biggest)
    Damaged("params header says the largest param has " + std::to_string(largest) + " bytes, it has " +
            std::to_string(biggest));
  if (cursor.pos != size)
    Damaged(std::to_string(size - cursor.pos) + " bytes after the last of its " + std::to_string(count) + " params");
}

}  // namespace

NbInfo VerifyNbBuffer(const void* buffer, size_t size) {
  const uint8_t* data = static_cast<const uint8_t*>(buffer);
  if (size > fmt::kMaxFileBytes)
    Throw(std::to_string(size) + " bytes, more than the " + std::to_string(fmt::kMaxFileBytes) + " a model may have");
  if (size < static_cast<size_t>(fmt::kHeaderBytes))
    Throw(std::to_string(size) + " bytes, too small to be a Paddle Lite model");
  NbInfo info;
  uint16_t meta_version;
  std::memcpy(&meta_version, data, 2);
  const char* version = reinterpret_cast<const char*>(data + 2);
  const void* nul = std::memchr(version, 0, fmt::kOptVersionBytes);
  const size_t length = nul ? static_cast<const char*>(nul) - version : 0;
  info.opt_version.assign(version, length);
  const bool printable = std::all_of(info.opt_version.begin(), info.opt_version.end(),
                                     [](char c) { return c > 32 && c < 127; });
  if (!nul || info.opt_version.compare(0, std::strlen(fmt::kOptVersionPrefix), fmt::kOptVersionPrefix) != 0 ||
      info.opt_version.size() < std::strlen(fmt::kOptVersionPrefix) || !printable)
    Throw("not a Paddle Lite naive-buffer (.nb) model (no opt version in its header)");
  bool supported = false;
  std::string versions;
  for (int k = 0; k < fmt::kMetaVersionCount; ++k) {
    supported = supported || meta_version == fmt::kMetaVersions[k];
    versions += (k ? ", " : "") + std::to_string(fmt::kMetaVersions[k]);
  }
  if (!supported)
    Throw("naive-buffer format " + std::to_string(meta_version) + " is not one this runtime loads (" + versions +
          "); convert it again with opt 2.13");
  info.meta_version = meta_version;
  uint64_t topology;
  std::memcpy(&topology, data + 2 + fmt::kOptVersionBytes, 8);
  const uint64_t start = fmt::kHeaderBytes;
  if (topology < 8 || topology > fmt::kMaxTopologyBytes || topology > size - start)
    Throw("truncated or damaged Paddle Lite model (a program of " + std::to_string(topology) + " bytes at offset " +
          std::to_string(start) + ", the file has " + std::to_string(size) + ")");
  Flat flat(data + start, topology, "program");
  Program program;
  try {
    const int64_t root = flat.Root(fmt::kProgramRoot);
    program = CheckProgram(flat, root, &info);
  } catch (const std::runtime_error& e) {
    Damaged(e.what());
  }
  CheckParams(data, size, start + topology, &program, &info);
  return info;
}

NbInfo VerifyNbFile(const std::string& path, const std::string& runtime_target) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) Throw("cannot read Paddle Lite model " + path);
  if (!S_ISREG(st.st_mode)) Throw(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > fmt::kMaxFileBytes)
    Throw(path + ": " + std::to_string(st.st_size) + " bytes, more than the " + std::to_string(fmt::kMaxFileBytes) +
          " a model may have");
  std::ifstream file(path, std::ios::binary);
  if (!file) Throw("cannot read Paddle Lite model " + path);
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  if (!bytes.empty() && !file.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    Throw("cannot read Paddle Lite model " + path);
  NbInfo info;
  try {
    info = VerifyNbBuffer(bytes.data(), bytes.size());
  } catch (const std::runtime_error& e) {
    Throw(path + ": " + e.what());
  }
  if (runtime_target.empty()) return info;
  const std::string target = NbDeviceTarget(info);
  if (target == runtime_target || target == "host") return info;
  auto upper = [](std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
  };
  Throw(path + " was built for " + upper(target) + " (opt --valid_targets=" + target + "); this " +
        upper(runtime_target) + " Paddle Lite runtime runs " + runtime_target +
        " models: export the bundle with --target " + runtime_target);
}

std::string NbDeviceTarget(const NbInfo& info) {
  // Paddle Lite's TargetType numbers (lite/api/paddle_place.h); host and any kernels run everywhere.
  const std::map<int, std::string> names{{2, "x86"}, {3, "cuda"}, {4, "arm"}, {5, "opencl"}, {17, "metal"},
                                         {18, "nnadapter"}};
  std::map<std::string, size_t> kernels;
  for (const auto& kernel : info.kernels) {
    std::string op;
    int numbers[3] = {0, 0, 0};
    if (!ParseKernel(kernel, &op, numbers) || numbers[0] == fmt::kTargetType_kHost ||
        numbers[0] == fmt::kTargetType_kAny)
      continue;
    const auto name = names.find(numbers[0]);
    ++kernels[name == names.end() ? "target" + std::to_string(numbers[0]) : name->second];
  }
  if (kernels.empty()) return "host";
  return std::max_element(kernels.begin(), kernels.end(),
                          [](const std::pair<const std::string, size_t>& a,
                             const std::pair<const std::string, size_t>& b) { return a.second < b.second; })
      ->first;
}

void CheckNbFile(const std::string& path) { VerifyNbFile(path); }

void CheckNbTarget(const std::string& path, const std::string& runtime_target) { VerifyNbFile(path, runtime_target); }

}  // namespace edge_ocr
