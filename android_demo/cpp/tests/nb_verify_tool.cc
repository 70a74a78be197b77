// nb_verify_tool: the C++ .nb verifier (nb_verify.h) on files or on mutants of one file, for the host tests.
//   nb_verify_tool FILE...            one line per file: "ok" or "refused: REASON"
//   nb_verify_tool --mutants FILE     reads mutations of FILE from stdin, one per line, and prints one verdict each:
//                                       flip POS MASK | trunc LENGTH | fill POS LENGTH BYTE | put POS HEXBYTES
// Exit 0 when every line was answered, 2 on bad usage. tests/test_nb_verify.py compares these verdicts with the
// Python verifier's on the same mutants.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nb_verify.h"

namespace {

std::string Verdict(const std::vector<unsigned char>& data) {
  try {
    edge_ocr::VerifyNbBuffer(data.data(), data.size());
    return "ok";
  } catch (const std::runtime_error& e) {
    return std::string("refused: ") + e.what();
  }
}

bool Mutate(const std::string& line, std::vector<unsigned char>* data) {
  std::istringstream in(line);
  std::string op;
  in >> op;
  if (op == "flip") {
    size_t pos = 0;
    unsigned mask = 0;
    if (!(in >> pos >> mask) || pos >= data->size()) return false;
    (*data)[pos] ^= static_cast<unsigned char>(mask);
  } else if (op == "trunc") {
    size_t length = 0;
    if (!(in >> length) || length > data->size()) return false;
    data->resize(length);
  } else if (op == "fill") {
    size_t pos = 0, length = 0;
    unsigned byte = 0;
    if (!(in >> pos >> length >> byte) || pos + length > data->size()) return false;
    for (size_t i = 0; i < length; ++i) (*data)[pos + i] = static_cast<unsigned char>(byte);
  } else if (op == "put") {
    size_t pos = 0;
    std::string hex;
    if (!(in >> pos >> hex) || hex.size() % 2 || pos + hex.size() / 2 > data->size()) return false;
    for (size_t i = 0; i < hex.size() / 2; ++i)
      (*data)[pos + i] = static_cast<unsigned char>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: nb_verify_tool FILE... | nb_verify_tool --mutants FILE < MUTATIONS\n";
    return 2;
  }
  if (std::string(argv[1]) == "--mutants") {
    if (argc != 3) return 2;
    std::ifstream file(argv[2], std::ios::binary);
    if (!file) {
      std::cerr << "nb_verify_tool: cannot read " << argv[2] << "\n";
      return 2;
    }
    const std::vector<unsigned char> original((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::string line;
    while (std::getline(std::cin, line)) {
      std::vector<unsigned char> data = original;
      std::cout << (Mutate(line, &data) ? Verdict(data) : "bad mutation: " + line) << "\n";
    }
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    try {
      edge_ocr::VerifyNbFile(argv[i]);
      std::cout << "ok\n";
    } catch (const std::runtime_error& e) {
      std::cout << "refused: " << e.what() << "\n";
    }
  }
  return 0;
}
