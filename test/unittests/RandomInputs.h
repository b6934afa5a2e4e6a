//===- RandomInputs.h - seeded normal inputs for the unit tests -*- C++ -*-===//
#ifndef QOPT_TEST_UNITTESTS_RANDOMINPUTS_H
#define QOPT_TEST_UNITTESTS_RANDOMINPUTS_H

#include <random>
#include <vector>

namespace qopt::testutil {

/// n values drawn from N(0, 1) by a generator seeded with `seed`: the same
/// inputs on every run.
template <typename T = float>
std::vector<T> randomVector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<T> dist(T(0), T(1));
  std::vector<T> v(n);
  for (T &x : v)
    x = dist(rng);
  return v;
}

} // namespace qopt::testutil

#endif
