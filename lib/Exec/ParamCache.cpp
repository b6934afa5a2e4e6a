//===- ParamCache.cpp ------------------------------------------------------===//
#include "ParamCache.h"

#include "llvm/ADT/STLExtras.h"

namespace qopt::exec {

void ParamCache::addWidened(mlir::Operation *op, const TensorView *tensor) {
  Entry &e = entries[op];
  if (budget == 0) {
    e.values = std::make_unique<std::vector<float>>(tensor->toFloats());
    return;
  }
  e.source = tensor;
}

void ParamCache::addMade(mlir::Operation *op, std::vector<float> values) {
  entries[op].values = std::make_unique<std::vector<float>>(std::move(values));
}

const float *ParamCache::get(mlir::Operation *op, llvm::ArrayRef<mlir::Operation *> pinned) {
  auto it = entries.find(op);
  if (it == entries.end())
    return nullptr;
  Entry &e = it->second;
  if (e.overridden)
    return e.overridden;
  if (e.inPlace)
    return e.inPlace;
  if (!e.source) // made at registration
    return e.values ? e.values->data() : nullptr;
  if (e.values) { // widened earlier: now the most recently used
    lruOrder.splice(lruOrder.end(), lruOrder, e.lru);
    return e.values->data();
  }
  e.values = std::make_unique<std::vector<float>>(e.source->toFloats());
  residentBytes += int64_t(e.values->size() * sizeof(float));
  e.lru = lruOrder.insert(lruOrder.end(), op);
  makeRoom(pinned, op);
  return e.values->data();
}

void ParamCache::makeRoom(llvm::ArrayRef<mlir::Operation *> pinned, mlir::Operation *keep) {
  for (auto it = lruOrder.begin(); residentBytes > budget && it != lruOrder.end();) {
    mlir::Operation *victim = *it;
    if (victim == keep || llvm::is_contained(pinned, victim)) {
      ++it;
      continue;
    }
    Entry &e = entries[victim];
    residentBytes -= int64_t(e.values->size() * sizeof(float));
    e.values.reset();
    it = lruOrder.erase(it);
  }
}

void ParamCache::forget(mlir::Operation *op) {
  auto it = entries.find(op);
  if (it == entries.end())
    return;
  if (it->second.source && it->second.values) {
    residentBytes -= int64_t(it->second.values->size() * sizeof(float));
    lruOrder.erase(it->second.lru);
  }
  entries.erase(it);
}

} // namespace qopt::exec
