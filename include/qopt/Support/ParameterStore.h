//===- ParameterStore.h - named weights behind qnt.param --------*- C++ -*-===//
//
// The IR names weights; the store holds them. Tensors come from mmapped files
// (a safetensors parameter file, or a llama2.c checkpoint viewed in place) or
// from buffers that passes produce. Saving writes one safetensors file.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_PARAMETERSTORE_H
#define QOPT_SUPPORT_PARAMETERSTORE_H

#include "qopt/Support/TensorView.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qopt {

class ParameterStore {
public:
  /// Opens a safetensors parameter file (memory-mapped).
  static llvm::Expected<std::shared_ptr<ParameterStore>> open(llvm::StringRef path);

  /// Adds or replaces a tensor.
  void set(const std::string &name, TensorView tensor);
  /// The tensor called `name`, or null.
  const TensorView *lookup(llvm::StringRef name) const;
  /// Like lookup, with an error naming the missing tensor.
  llvm::Expected<const TensorView *> get(llvm::StringRef name) const;

  std::vector<std::string> names() const;
  size_t size() const { return tensors.size(); }
  /// Total bytes of all tensors.
  size_t totalBytes() const;

  std::map<std::string, std::string> &metadata() { return meta; }
  const std::map<std::string, std::string> &metadata() const { return meta; }

  /// Writes every tensor to one safetensors file (atomically).
  llvm::Error save(llvm::StringRef path) const;

private:
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> meta;
};

} // namespace qopt

#endif
