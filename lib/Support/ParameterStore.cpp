//===- ParameterStore.cpp --------------------------------------------------===//
#include "qopt/Support/ParameterStore.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

namespace qopt {

llvm::Expected<std::shared_ptr<ParameterStore>>
ParameterStore::open(llvm::StringRef path) {
  auto file = readSafeTensors(path);
  if (!file)
    return file.takeError();
  auto store = std::make_shared<ParameterStore>();
  store->tensors = std::move(file->tensors);
  store->meta = std::move(file->metadata);
  return store;
}

void ParameterStore::set(const std::string &name, TensorView tensor) {
  tensors[name] = std::move(tensor);
}

const TensorView *ParameterStore::lookup(llvm::StringRef name) const {
  auto it = tensors.find(name.str());
  return it == tensors.end() ? nullptr : &it->second;
}

llvm::Expected<const TensorView *> ParameterStore::get(llvm::StringRef name) const {
  if (const TensorView *t = lookup(name))
    return t;
  return makeError("parameter '" + name + "' is not in the parameter store");
}

std::vector<std::string> ParameterStore::names() const {
  std::vector<std::string> out;
  for (const auto &entry : tensors)
    out.push_back(entry.first);
  return out;
}

size_t ParameterStore::totalBytes() const {
  size_t total = 0;
  for (const auto &entry : tensors)
    total += entry.second.nbytes;
  return total;
}

llvm::Error ParameterStore::save(llvm::StringRef path) const {
  SafeTensorsFile file;
  file.tensors = tensors;
  file.metadata = meta;
  return writeSafeTensors(path, file);
}

} // namespace qopt
