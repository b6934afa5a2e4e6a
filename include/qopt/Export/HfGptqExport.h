//===- HfGptqExport.h - a qnt model as a Hugging Face GPTQ directory -*- C++ -*-===//
//
// The layout transformers / optimum / GPTQModel / vLLM load for
// `quant_method: gptq`, `checkpoint_format: gptq` (AutoGPTQ's v1 packing):
// per linear [out N, in K] at b bits with groups of g input channels,
//   qweight int32 [K*b/32, N]  codes packed along K, lowest bits first
//   qzeros  int32 [K/g, N*b/32] zero points minus one, packed along N
//   scales  f16   [K/g, N]
//   g_idx   int32 [K]           k / g (qopt's groups are contiguous)
// so w[n, k] = scales[g, n] * (q[k, n] - (z[g, n] + 1)) with z the stored
// value: qopt's (code - zero) * scale exactly. Every linear must share one
// scheme (int2/4/8, groups dividing its input width, or per channel);
// q/k rows go to Hugging Face's rotate-half order.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXPORT_HFGPTQEXPORT_H
#define QOPT_EXPORT_HFGPTQEXPORT_H

#include "qopt/Driver/LoadedModel.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qopt {

struct HfGptqReport {
  int64_t bits = 0, groupSize = 0; // group_size as written (-1: per channel)
  bool symmetric = true;
  int64_t quantizedLinears = 0;
  std::vector<std::string> files, notes;
};

/// Writes `model` to the directory `dir`, which must not exist (it is
/// assembled beside it and renamed into place).
llvm::Expected<HfGptqReport> exportHfGptq(const LoadedModel &model, llvm::StringRef dir);

} // namespace qopt

#endif
