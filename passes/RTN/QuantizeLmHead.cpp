//===- QuantizeLmHead.cpp - the classifier to integer codes ---------------===//
//
// The classifier (vocab x dim) is the largest matrix of a small model and is
// read whole every decode step: stories110M's f32 classifier is 98 of its
// 142 MiB at w4. Weight-only passes leave it in float; this pass quantizes it
// per output channel or per group (round to nearest, symmetric), as
// llama.cpp keeps the output matrix at 6 or 8 bits, or at 4 with Q4_0. A classifier tied to the
// embedding table gets its own quantized copy: the embedding keeps gathering float rows.
//
//===----------------------------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace qopt {
#define GEN_PASS_DEF_QNTQUANTIZELMHEAD
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntQuantizeLmHeadPass : QuantPass<QntQuantizeLmHeadPass, impl::QntQuantizeLmHeadBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (bits < 2 || bits > 8)
      return fail("bits must be in [2, 8], got " + llvm::Twine(int64_t(bits)));
    if (groupSize < 0)
      return fail("group-size must be 0 (per output channel) or positive, got " +
                  llvm::Twine(int64_t(groupSize)));
    auto store = requireStore();
    if (!store)
      return;
    SmallVector<qnt::LmHeadOp> heads;
    module.walk([&](qnt::LmHeadOp op) { heads.push_back(op); });
    for (qnt::LmHeadOp head : heads) {
      auto param = head.getWeight().getDefiningOp<qnt::ParamOp>();
      if (!param)
        continue; // already quantized
      auto shape = param.getType().getShape();
      std::string name = param.getName().str();
      auto w = readWeight(*store, name);
      if (!w)
        return fail(llvm::toString(w.takeError()));
      if (groupSize > 0 && shape[1] % groupSize)
        return fail("group-size " + llvm::Twine(int64_t(groupSize)) + " does not divide the " +
                    llvm::Twine(shape[1]) + " input channels of '" + name + "'");
      qmath::Scheme scheme;
      scheme.bits = bits;
      scheme.groupSize = groupSize;
      std::string why = scheme.validate();
      if (!why.empty())
        return fail(why);
      qmath::QuantizedWeight q = qmath::quantizeRTN(scheme, w->data(), shape[0], shape[1]);
      std::vector<float> deq = q.dequantize();
      qmath::storeQuantized(*store, name, q);
      OpBuilder b(head);
      auto qparam = qnt::QParamOp::create(b, head.getLoc(), param.getType(),
                                          b.getStringAttr(name), scheme.toAttr(&getContext(), 0));
      qparam->setAttr(kRelErrorAttr,
                      b.getF32FloatAttr(float(relativeOutputError(w->data(), deq.data(), shape[0],
                                                                  shape[1], {}))));
      head.getWeightMutable().assign(qparam);
      if (param->use_empty())
        param->erase();
    }
  }
};

} // namespace
} // namespace qopt
