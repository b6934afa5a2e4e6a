//===- Sampler.cpp ---------------------------------------------------------===//
#include "qopt/Driver/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace qopt {

int32_t argmax(llvm::ArrayRef<float> values) {
  int32_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best])
      best = int32_t(i);
  return best;
}

float Sampler::randomFloat() {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  uint32_t bits = uint32_t((state * 0x2545F4914F6CDD1Dull) >> 32);
  return float(bits >> 8) / 16777216.0f;
}

int32_t Sampler::sample(llvm::ArrayRef<float> logits) {
  if (temperature == 0.0f)
    return argmax(logits);
  size_t n = logits.size();
  std::vector<float> probs(n);
  float maxLogit = *std::max_element(logits.begin(), logits.end()) / temperature;
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    probs[i] = std::exp(logits[i] / temperature - maxLogit);
    sum += probs[i];
  }
  for (float &p : probs)
    p /= sum;
  float coin = randomFloat();

  if (topP <= 0.0f || topP >= 1.0f) {
    float cdf = 0.0f;
    for (size_t i = 0; i < n; ++i) {
      cdf += probs[i];
      if (coin < cdf)
        return int32_t(i);
    }
    return int32_t(n - 1); // rounding left the cdf just below 1
  }

  // Tokens below this cannot be in the nucleus (llama2.c's cutoff).
  float cutoff = (1.0f - topP) / float(n - 1);
  std::vector<int32_t> candidates;
  for (size_t i = 0; i < n; ++i)
    if (probs[i] >= cutoff)
      candidates.push_back(int32_t(i));
  std::sort(candidates.begin(), candidates.end(), [&](int32_t a, int32_t b) {
    return probs[a] != probs[b] ? probs[a] > probs[b] : a < b;
  });
  float cumulative = 0.0f;
  size_t last = candidates.size() - 1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += probs[candidates[i]];
    if (cumulative > topP) {
      last = i;
      break;
    }
  }
  float r = coin * cumulative;
  float cdf = 0.0f;
  for (size_t i = 0; i <= last; ++i) {
    cdf += probs[candidates[i]];
    if (r < cdf)
      return candidates[i];
  }
  return candidates[last];
}

} // namespace qopt
