// Staged calibration (one paused forward per sample, weights changed between
// stages) against the executor run whole: its statistics equal the
// whole-forward recorder's, its Hessians agree with the oracle executor's
// plain loops, and a weight overridden at a pause is what the later layers
// see.
#include "Qnt/IR/QntDialect.h"
#include "qopt/Driver/LoadedModel.h"
#include "qopt/Exec/Calibration.h"
#include "qopt/Import/GraphBuilder.h"
#include "qopt/Import/Importers.h"

#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt;

namespace {

struct Model {
  std::unique_ptr<mlir::MLIRContext> ctx;
  ImportedModel imported;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Model loadStories260K() {
  Model m;
  m.ctx = createContext();
  auto imported = importLlama2c(QOPT_SHARED_DIR "/models/stories260K/stories260K.bin");
  if (!imported) {
    ADD_FAILURE() << llvm::toString(imported.takeError());
    return m;
  }
  m.imported = std::move(*imported);
  m.module = buildLlamaModule(*m.ctx, m.imported.config, *m.imported.params);
  return m;
}

std::shared_ptr<const CalibrationSet> randomCalibration(int64_t vocab, int64_t count,
                                                        int64_t length) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(1, int32_t(vocab - 1));
  std::vector<int32_t> stream(count * length);
  for (int32_t &t : stream)
    t = token(rng);
  auto set = makeCalibrationSet(stream, count, length);
  EXPECT_TRUE(bool(set));
  return std::make_shared<const CalibrationSet>(std::move(*set));
}

/// The linear whose weight parameter is `name`.
qnt::LinearOp findLinear(mlir::ModuleOp module, llvm::StringRef name) {
  qnt::LinearOp found;
  module.walk([&](qnt::LinearOp op) {
    if (auto p = op.getWeight().getDefiningOp<qnt::ParamOp>())
      if (p.getName() == name)
        found = op;
  });
  EXPECT_TRUE(bool(found)) << "no linear reads " << name.str();
  return found;
}

TEST(StagedCalibration, StatisticsEqualTheWholeForwardRecorder) {
  Model m = loadStories260K();
  ASSERT_TRUE(m.module);
  auto calib = randomCalibration(m.imported.config.vocabSize, 3, 40);
  RecordOptions record;
  record.hessian = true;
  record.maxSampleRows = 50;
  std::vector<std::string> names = {"layers.0.wq", "layers.1.w2", "layers.4.w1"};
  std::vector<mlir::Operation *> linears;
  for (const auto &n : names)
    linears.push_back(findLinear(*m.module, n));
  auto whole = recordActivations(*m.module, m.imported.params, *calib, linears, record);
  ASSERT_TRUE(bool(whole)) << llvm::toString(whole.takeError());

  auto staged = StagedCalibration::create(*m.module, m.imported.params, calib);
  ASSERT_TRUE(bool(staged)) << llvm::toString(staged.takeError());
  for (mlir::Operation *op : linears) {
    mlir::Value input = llvm::cast<qnt::LinearOp>(op).getInput();
    auto stats = (*staged)->advanceTo(op, input, record);
    ASSERT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
    const ActivationStats &ref = (*whole)[input];
    EXPECT_EQ(stats->rows, 3 * 40);
    EXPECT_EQ(stats->rows, ref.rows);
    EXPECT_EQ(stats->absMax, ref.absMax);
    EXPECT_EQ(stats->absSum, ref.absSum);
    EXPECT_EQ(stats->xtx, ref.xtx);
    EXPECT_EQ(stats->sample, ref.sample);
  }
}

TEST(StagedCalibration, HessiansAgreeWithTheOracleExecutor) {
  Model m = loadStories260K();
  ASSERT_TRUE(m.module);
  auto calib = randomCalibration(m.imported.config.vocabSize, 2, 32);
  qnt::LinearOp target = findLinear(*m.module, "layers.3.w2");

  // The oracle: plain loops, X^T X summed in double from what it computed.
  auto oracle = Executor::create(*m.module, m.imported.params);
  ASSERT_TRUE(bool(oracle));
  std::vector<double> xtx;
  int64_t cols = 0;
  (*oracle)->setLinearObserver([&](mlir::Operation *op, const float *x, int64_t rows,
                                   int64_t c) {
    if (op != target.getOperation())
      return false;
    cols = c;
    xtx.resize(c * c, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < c; ++i)
        for (int64_t j = 0; j < c; ++j)
          xtx[i * c + j] += double(x[r * c + i]) * x[r * c + j];
    return true;
  });
  for (const auto &sample : calib->samples) {
    (*oracle)->resetCache();
    auto out = (*oracle)->forward(sample, 0);
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  }

  auto staged = StagedCalibration::create(*m.module, m.imported.params, calib);
  ASSERT_TRUE(bool(staged));
  RecordOptions record;
  record.hessian = true;
  auto stats = (*staged)->advanceTo(target, target.getInput(), record);
  ASSERT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
  ASSERT_EQ(stats->cols, cols);
  double maxAbs = 0, maxErr = 0;
  std::vector<double> h = stats->hessian(); // 2 X^T X / rows, both triangles
  ASSERT_EQ(h.size(), xtx.size());
  for (size_t i = 0; i < xtx.size(); ++i) {
    maxAbs = std::max(maxAbs, std::fabs(xtx[i]));
    maxErr = std::max(maxErr, std::fabs(xtx[i] - h[i] * double(stats->rows) / 2));
  }
  EXPECT_GT(maxAbs, 0.0);
  // Different summation orders over ~14 layers of f32 arithmetic.
  EXPECT_LT(maxErr, 1e-4 * maxAbs) << "max |dH| " << maxErr << " of " << maxAbs;
}

TEST(StagedCalibration, AWeightOverriddenAtAPauseIsWhatLaterLayersSee) {
  Model m = loadStories260K();
  ASSERT_TRUE(m.module);
  auto calib = randomCalibration(m.imported.config.vocabSize, 2, 24);
  qnt::LinearOp wo = findLinear(*m.module, "layers.0.wo");
  qnt::LinearOp w1 = findLinear(*m.module, "layers.0.w1");
  mlir::Operation *woParam = wo.getWeight().getDefiningOp();
  const TensorView *woView = m.imported.params->lookup("layers.0.wo");
  ASSERT_NE(woView, nullptr);
  std::vector<float> changed = woView->toFloats();
  for (size_t i = 0; i < changed.size(); ++i)
    changed[i] *= (i % 3 == 0 ? 0.5f : 1.25f);

  auto staged = StagedCalibration::create(*m.module, m.imported.params, calib);
  ASSERT_TRUE(bool(staged));
  RecordOptions record;
  record.hessian = true;
  ASSERT_TRUE(bool((*staged)->advanceTo(wo, wo.getInput(), record)));
  (*staged)->executor().overrideParameter(woParam, changed.data());
  auto after = (*staged)->advanceTo(w1, w1.getInput(), record);
  ASSERT_TRUE(bool(after)) << llvm::toString(after.takeError());

  // The same forward, whole, with the override in place from the start.
  auto plain = Executor::create(*m.module, m.imported.params, {0, /*fastLinear=*/true});
  ASSERT_TRUE(bool(plain));
  (*plain)->overrideParameter(woParam, changed.data());
  std::vector<float> seen;
  (*plain)->setLinearObserver([&](mlir::Operation *op, const float *x, int64_t rows,
                                  int64_t cols) {
    if (op != w1.getOperation())
      return false;
    seen.insert(seen.end(), x, x + rows * cols);
    return true;
  });
  for (const auto &sample : calib->samples) {
    (*plain)->resetCache();
    ASSERT_TRUE(bool((*plain)->forward(sample, 0)));
  }
  std::vector<float> absMax(after->cols, 0.0f);
  for (size_t i = 0; i < seen.size(); ++i)
    absMax[i % after->cols] = std::max(absMax[i % after->cols], std::fabs(seen[i]));
  EXPECT_EQ(after->absMax, absMax);

  // And the override changed what w1 sees (the test would pass vacuously
  // if it did not).
  auto untouched = StagedCalibration::create(*m.module, m.imported.params, calib);
  ASSERT_TRUE(bool(untouched));
  auto base = (*untouched)->advanceTo(w1, w1.getInput(), record);
  ASSERT_TRUE(bool(base));
  EXPECT_NE(base->absMax, after->absMax);
}

} // namespace

namespace {

/// `store` with every float tensor rounded to bf16 (as a Hub checkpoint).
std::shared_ptr<ParameterStore> toBFloat16(const ParameterStore &store) {
  auto out = std::make_shared<ParameterStore>();
  for (const std::string &name : store.names()) {
    const TensorView *t = store.lookup(name);
    std::vector<float> f = t->toFloats();
    auto bits = std::make_shared<std::vector<uint16_t>>(f.size());
    for (size_t i = 0; i < f.size(); ++i)
      (*bits)[i] = floatToBFloat16(f[i]);
    TensorView v;
    v.dtype = DType::BF16;
    v.shape = t->shape;
    v.data = reinterpret_cast<const uint8_t *>(bits->data());
    v.nbytes = bits->size() * 2;
    v.owner = bits;
    out->set(name, v);
  }
  return out;
}

TEST(WideningBudget, ABudgetBelowOneWeightGivesTheLogitsOfWideningWhole) {
  Model m = loadStories260K();
  ASSERT_TRUE(m.module);
  auto bf16 = toBFloat16(*m.imported.params);
  auto module = buildLlamaModule(*m.ctx, m.imported.config, *bf16);
  std::vector<int32_t> tokens = {1, 403, 77, 301, 9, 250, 18};
  ExecOptions eager, tight;
  tight.widenBudgetBytes = 1024; // smaller than any weight: dropped after each use
  auto a = Executor::create(*module, bf16, eager);
  auto b = Executor::create(*module, bf16, tight);
  ASSERT_TRUE(bool(a) && bool(b));
  for (int round = 0; round < 2; ++round) { // the second re-widens what was dropped
    (*a)->resetCache();
    (*b)->resetCache();
    auto la = (*a)->forward(tokens, 0), lb = (*b)->forward(tokens, 0);
    ASSERT_TRUE(bool(la) && bool(lb));
    EXPECT_EQ(*la, *lb);
  }
}

TEST(WideningBudget, StagedCalibrationUnderABudgetRecordsTheSameStatistics) {
  Model m = loadStories260K();
  ASSERT_TRUE(m.module);
  auto bf16 = toBFloat16(*m.imported.params);
  auto module = buildLlamaModule(*m.ctx, m.imported.config, *bf16);
  auto calib = randomCalibration(m.imported.config.vocabSize, 3, 20);
  qnt::LinearOp wo = findLinear(*module, "layers.2.wo"), wq = findLinear(*module, "layers.3.wq");
  RecordOptions record;
  record.hessian = true;
  auto whole = recordActivations(*module, bf16, *calib, {wo.getOperation(), wq.getOperation()},
                                 record);
  ASSERT_TRUE(bool(whole));

  // A staged set under a tiny budget: every cursor re-widens what the one
  // before it dropped, and the parameter viewed before a pause comes back.
  auto exec = Executor::create(*module, bf16, {0, true, 0, /*widenBudgetBytes=*/1024});
  ASSERT_TRUE(bool(exec));
  std::vector<Executor::CursorPtr> cursors;
  for (const auto &s : calib->samples) {
    auto c = (*exec)->beginForward(s);
    ASSERT_TRUE(bool(c));
    cursors.push_back(std::move(*c));
  }
  // Two stages: the second resumes cursors whose wo view was dropped while
  // the later cursors ran.
  for (qnt::LinearOp stop : {wo, wq}) {
    std::vector<float> absMax;
    for (auto &c : cursors) {
      ASSERT_FALSE(bool((*exec)->runUntil(*c, stop)));
      int64_t rows = 0, cols = 0;
      const float *x = (*exec)->valueAt(*c, stop.getInput(), rows, cols);
      ASSERT_NE(x, nullptr);
      absMax.resize(cols, 0.0f);
      for (int64_t i = 0; i < rows * cols; ++i)
        absMax[i % cols] = std::max(absMax[i % cols], std::fabs(x[i]));
    }
    EXPECT_EQ(absMax, (*whole)[stop.getInput()].absMax);
  }
}

} // namespace
