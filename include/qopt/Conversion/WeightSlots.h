//===- WeightSlots.h - the CPU program's weight table -------------*- C++ -*-===//
//
// Every tensor a compiled program reads is one slot of the packed weights
// file (runtime/include/qrt_format.h). The lowering assigns slots in program
// order; the writer packs the parameter store's tensors into the layout each
// slot's kernel reads; both sides agree through programHash, which the
// runtime checks so that a program never runs another program's weights.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_CONVERSION_WEIGHTSLOTS_H
#define QOPT_CONVERSION_WEIGHTSLOTS_H

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Support/ParameterStore.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qopt::cpu {

struct WeightSlot {
  std::string name;
  uint32_t kind = 0;   // qrtw_kind
  uint32_t format = 0; // qrtw_format
  int64_t rows = 1, cols = 0;
  bool quantized = false;
  qmath::Scheme scheme; // when quantized
  int64_t groupWidth = 0, groupsPerRow = 0, outliers = 0;
  bool gatherOnly = false; // only qnt.embedding reads it (QRTW_SLOT_GATHER_ONLY)
};

/// The slot of a float parameter (vectors become 1 x n).
WeightSlot floatSlot(qnt::ParamOp op);
/// The slot of a quantized weight: 4-bit integer codes whose groups are
/// whole 32-code blocks go to the nibble-block layout, everything else
/// (int2..int8, NF4, ragged 4-bit groups) to one byte per code.
WeightSlot quantizedSlot(qnt::QParamOp op);

uint64_t programHash(const std::vector<WeightSlot> &slots);

/// Writes the .qrtw file (temp file, then rename): header, slot table,
/// packed data, and the tokenizer section (Tokenizer::bytes(); none when
/// empty).
llvm::Error writeWeightsFile(const std::string &path, const std::vector<WeightSlot> &slots,
                             const ParameterStore &store, const std::string &tokenizer);

} // namespace qopt::cpu

#endif
