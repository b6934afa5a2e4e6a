//===- Sampler.h - next-token selection -------------------------*- C++ -*-===//
//
// llama2.c's sampler: temperature 0 is argmax (first maximum); otherwise
// softmax(logits / temperature), then top-p (nucleus) sampling when
// 0 < top_p < 1, else plain multinomial. The RNG is llama2.c's xorshift*, so
// a seed gives the same stream as llama2.c's. Ties in the top-p sort are
// broken by token id, so results do not depend on the sort implementation.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DRIVER_SAMPLER_H
#define QOPT_DRIVER_SAMPLER_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace qopt {

class Sampler {
public:
  Sampler(float temperature, float topP, uint64_t seed)
      : temperature(temperature), topP(topP), state(seed ? seed : 1) {}

  int32_t sample(llvm::ArrayRef<float> logits);

  /// Uniform float in [0, 1) from the xorshift* stream.
  float randomFloat();

private:
  float temperature, topP;
  uint64_t state;
};

int32_t argmax(llvm::ArrayRef<float> values);

} // namespace qopt

#endif
