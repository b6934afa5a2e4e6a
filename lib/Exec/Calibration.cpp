//===- Calibration.cpp - record activation statistics ----------------------===//
#include "qopt/Exec/Calibration.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/FastLinear.h"
#include "qopt/Exec/Kernels.h"
#include "qopt/Support/Error.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

using namespace mlir;

namespace qopt {

llvm::Expected<CalibrationSet> makeCalibrationSet(const std::vector<int32_t> &stream,
                                                  int64_t count, int64_t length) {
  if (count <= 0 || length <= 0)
    return makeError("calibration needs a positive sample count and length, got " +
                     llvm::Twine(count) + " x " + llvm::Twine(length));
  if (stream.empty())
    return makeError("the calibration text is empty");
  if (int64_t(stream.size()) < count * length)
    return makeError("the calibration text has " + llvm::Twine(stream.size()) +
                     " tokens, fewer than the " + llvm::Twine(count) + " x " +
                     llvm::Twine(length) + " requested");
  CalibrationSet set;
  for (int64_t i = 0; i < count; ++i)
    set.samples.emplace_back(stream.begin() + i * length, stream.begin() + (i + 1) * length);
  return set;
}

std::vector<double> ActivationStats::hessian() const {
  std::vector<double> h(xtx.size());
  double f = rows ? 2.0 / double(rows) : 0.0;
  for (int64_t i = 0; i < cols && !xtx.empty(); ++i)
    for (int64_t j = 0; j <= i; ++j) // mirrored from the lower triangle
      h[size_t(i * cols + j)] = h[size_t(j * cols + i)] = xtx[size_t(i * cols + j)] * f;
  return h;
}

namespace {

std::atomic<int64_t> forwardTokens{0}, forwardNanoseconds{0};

/// Adds the time from its construction to its destruction, and `tokens`, to
/// the process's calibration clock.
class ForwardTimer {
public:
  explicit ForwardTimer(int64_t tokens) : tokens(tokens) {}
  ~ForwardTimer() {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - start);
    forwardTokens += tokens;
    forwardNanoseconds += ns.count();
  }

private:
  int64_t tokens;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

void accumulate(ThreadPool &pool, ActivationStats &s, const float *x, int64_t rows,
                int64_t cols, const RecordOptions &options, int64_t sampleStride) {
  if (s.cols == 0) {
    s.cols = cols;
    s.absMax.assign(cols, 0.0f);
    s.absSum.assign(cols, 0.0);
    if (options.hessian)
      s.xtx.assign(size_t(cols * cols), 0.0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      float a = std::fabs(row[c]);
      if (!std::isfinite(a))
        s.nonFinite = true;
      s.absMax[c] = std::max(s.absMax[c], a);
      s.absSum[c] += a;
    }
    if (options.maxSampleRows > 0 && (s.rows + r) % sampleStride == 0 &&
        s.sampleRows < options.maxSampleRows) {
      s.sample.insert(s.sample.end(), row, row + cols);
      ++s.sampleRows;
    }
  }
  if (options.hessian)
    kernels::accumulateGram(pool, x, rows, cols, s.xtx.data());
  s.rows += rows;
}

/// A linear by its weight's parameter name, for errors.
std::string describeLinear(Operation *op) {
  auto linear = dyn_cast<qnt::LinearOp>(op);
  Operation *weight = linear ? linear.getWeight().getDefiningOp() : nullptr;
  if (auto p = dyn_cast_or_null<qnt::ParamOp>(weight))
    return p.getName().str();
  if (auto q = dyn_cast_or_null<qnt::QParamOp>(weight))
    return q.getName().str();
  return "a linear";
}

} // namespace

namespace {
/// MemAvailable of /proc/meminfo, or 8 GiB where it cannot be read.
int64_t availableMemoryBytes() {
  int64_t kib = 0;
  if (FILE *f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "MemAvailable: %lld kB", reinterpret_cast<long long *>(&kib)) == 1)
        break;
    std::fclose(f);
  }
  return kib > 0 ? kib * 1024 : int64_t(8) << 30;
}
} // namespace

ExecOptions calibrationExecOptions(const CalibrationSet &calib) {
  ExecOptions options;
  options.fastLinear = true;
  // Half of what is free for widened weights: a 1B model's all fit (no
  // re-widening between samples); a 7B bf16 model's 27 GB of f32 do not,
  // and the staged forward holds one step's.
  options.widenBudgetBytes = std::max<int64_t>(int64_t(2) << 30, availableMemoryBytes() / 2);
  for (const auto &s : calib.samples)
    options.maxSeqLen = std::max(options.maxSeqLen, int64_t(s.size()));
  return options;
}

CalibrationClock calibrationForwardTotals() {
  return {forwardTokens.load(), double(forwardNanoseconds.load()) * 1e-9};
}

llvm::Expected<ActivationMap> recordActivations(ModuleOp module,
                                                std::shared_ptr<ParameterStore> store,
                                                const CalibrationSet &calib,
                                                llvm::ArrayRef<Operation *> linears,
                                                const RecordOptions &options) {
  if (calib.samples.empty())
    return makeError("no calibration data: give calibration text (--calib FILE)");
  auto exec = Executor::create(module, std::move(store), calibrationExecOptions(calib));
  if (!exec)
    return exec.takeError();
  ThreadPool &pool = (*exec)->threadPool();
  llvm::DenseSet<Operation *> wanted(linears.begin(), linears.end());
  Operation *last = nullptr;
  for (Operation *op : linears)
    if (!last || last->isBeforeInBlock(op))
      last = op;
  int64_t stride = options.maxSampleRows > 0
                       ? std::max<int64_t>(1, (calib.tokens() + options.maxSampleRows - 1) /
                                                  options.maxSampleRows)
                       : 1;
  ActivationMap stats;
  (*exec)->setLinearObserver([&](Operation *op, const float *x, int64_t rows, int64_t cols) {
    if (!wanted.contains(op))
      return false;
    Value input = cast<qnt::LinearOp>(op).getInput();
    ActivationStats &s = stats[input];
    // Several linears read the same input: record it once per forward.
    bool first = true;
    for (Operation *user : input.getUsers())
      if (wanted.contains(user) && user != op && user->isBeforeInBlock(op))
        first = false;
    if (first)
      accumulate(pool, s, x, rows, cols, options, stride);
    return op == last;
  });
  int64_t done = 0, total = int64_t(calib.samples.size());
  for (const auto &sample : calib.samples) {
    (*exec)->resetCache();
    {
      ForwardTimer timer(int64_t(sample.size()));
      auto result = (*exec)->forward(sample, 0);
      if (!result)
        return result.takeError();
    }
    if (options.onSample)
      options.onSample(++done, total);
  }
  for (Operation *op : linears) {
    auto it = stats.find(cast<qnt::LinearOp>(op).getInput());
    if (it != stats.end() && it->second.nonFinite)
      return makeError("calibration saw NaN or Inf in the input of " + describeLinear(op));
  }
  return stats;
}

llvm::Expected<std::unique_ptr<StagedCalibration>>
StagedCalibration::create(ModuleOp module, std::shared_ptr<ParameterStore> store,
                          std::shared_ptr<const CalibrationSet> calib) {
  if (!calib || calib->samples.empty())
    return makeError("no calibration data: give calibration text (--calib FILE)");
  auto exec = Executor::create(module, std::move(store), calibrationExecOptions(*calib));
  if (!exec)
    return exec.takeError();
  std::unique_ptr<StagedCalibration> staged(new StagedCalibration());
  forwardTokens += calib->tokens(); // the seconds come as advanceTo runs
  staged->exec = std::move(*exec);
  staged->calib = std::move(calib);
  for (const auto &sample : staged->calib->samples) {
    auto cursor = staged->exec->beginForward(sample);
    if (!cursor)
      return cursor.takeError();
    staged->cursors.push_back(std::move(*cursor));
  }
  return staged;
}

llvm::Expected<ActivationStats> StagedCalibration::advanceTo(Operation *stop, Value input,
                                                             const RecordOptions &options) {
  int64_t stride = options.maxSampleRows > 0
                       ? std::max<int64_t>(1, (calib->tokens() + options.maxSampleRows - 1) /
                                                  options.maxSampleRows)
                       : 1;
  ActivationStats stats;
  ForwardTimer timer(0); // the Gram products count, as in recordActivations
  for (Executor::CursorPtr &cursor : cursors) {
    if (llvm::Error err = exec->runUntil(*cursor, stop))
      return std::move(err);
    int64_t rows = 0, cols = 0;
    const float *x = exec->valueAt(*cursor, input, rows, cols);
    if (!x)
      return makeError("staged calibration: the forward ended before the op it was to "
                       "pause at");
    accumulate(exec->threadPool(), stats, x, rows, cols, options, stride);
  }
  if (stats.nonFinite)
    return makeError("calibration saw NaN or Inf in the input of " + describeLinear(stop));
  return stats;
}

namespace {
/// Logits [positions, vocab] -> log-softmax in place.
void logSoftmaxRows(std::vector<float> &x, int64_t vocab) {
  for (size_t r = 0; r < x.size(); r += size_t(vocab)) {
    float *row = x.data() + r;
    float maxv = row[0];
    for (int64_t v = 1; v < vocab; ++v)
      maxv = std::max(maxv, row[v]);
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v)
      sum += std::exp(double(row[v] - maxv));
    float logZ = maxv + float(std::log(sum));
    for (int64_t v = 0; v < vocab; ++v)
      row[v] -= logZ;
  }
}
} // namespace

llvm::Expected<std::vector<std::vector<float>>>
positionLogProbs(Executor &exec, const CalibrationSet &calib, int64_t count) {
  size_t n = count > 0 ? std::min(calib.samples.size(), size_t(count)) : calib.samples.size();
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < n; ++i) {
    exec.resetCache();
    ForwardTimer timer(int64_t(calib.samples[i].size()));
    auto logits = exec.forward(calib.samples[i], 0);
    if (!logits)
      return logits.takeError();
    logSoftmaxRows(*logits, exec.vocabSize());
    out.push_back(std::move(*logits));
  }
  return out;
}

llvm::Expected<double> meanKlDivergence(Executor &exec, const CalibrationSet &calib,
                                        const std::vector<std::vector<float>> &reference) {
  auto current = positionLogProbs(exec, calib, int64_t(reference.size()));
  if (!current)
    return current.takeError();
  int64_t vocab = exec.vocabSize();
  double sum = 0;
  int64_t positions = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const std::vector<float> &p = reference[i], &q = (*current)[i];
    for (size_t r = 0; r < p.size(); r += size_t(vocab), ++positions)
      for (int64_t v = 0; v < vocab; ++v)
        sum += std::exp(double(p[r + v])) * double(p[r + v] - q[r + v]);
  }
  return positions ? sum / double(positions) : 0.0;
}

} // namespace qopt
