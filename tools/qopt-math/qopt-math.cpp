//===- qopt-math.cpp - run one quantization algorithm on raw matrices ------===//
//
// A test harness: the Python tests feed the C++ algorithms matrices and
// compare against independent numpy transcriptions of the papers.
//
//   qopt-math gptq IN.safetensors OUT.safetensors [--bits N --group-size G
//             --asym --act-order --static-groups --damp D --block-size B]
//       IN holds "w" [rows, cols] and "h" [cols, cols] (f32); OUT gets "q",
//       the dequantized GPTQ result, and "rtn", round to nearest.
//   qopt-math nf4-levels      prints the 16 NF4 levels
//
//===----------------------------------------------------------------------===//
#include "Qnt/Utils/QuantScheme.h"
#include "passes/GPTQ/GPTQSolver.h"
#include "qopt/Support/ParameterStore.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using namespace qopt;

static cl::opt<std::string> command(cl::Positional, cl::Required, cl::desc("<gptq|nf4-levels>"));
static cl::opt<std::string> inPath(cl::Positional, cl::desc("<in>"), cl::init(""));
static cl::opt<std::string> outPath(cl::Positional, cl::desc("<out>"), cl::init(""));
static cl::opt<int64_t> bits("bits", cl::init(4));
static cl::opt<int64_t> groupSize("group-size", cl::init(0));
static cl::opt<bool> asym("asym", cl::init(false));
static cl::opt<bool> actOrder("act-order", cl::init(false));
static cl::opt<bool> staticGroups("static-groups", cl::init(false));
static cl::opt<double> damp("damp", cl::init(0.01));
static cl::opt<int64_t> blockSize("block-size", cl::init(128));

static int fail(const llvm::Twine &why) {
  llvm::errs() << "qopt-math: error: " << why << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "qopt quantization math harness\n");
  if (command == "nf4-levels") {
    for (float v : qmath::nf4Levels())
      llvm::outs() << llvm::format("%.9g\n", v);
    return 0;
  }
  if (command != "gptq")
    return fail("unknown command '" + command + "'");
  auto store = ParameterStore::open(inPath);
  if (!store)
    return fail(llvm::toString(store.takeError()));
  const TensorView *w = (*store)->lookup("w"), *h = (*store)->lookup("h");
  if (!w || !h || w->shape.size() != 2)
    return fail("input needs 'w' [rows, cols] and 'h' [cols, cols]");
  int64_t rows = w->shape[0], cols = w->shape[1];
  std::vector<float> wv = w->toFloats(), hv = h->toFloats();
  std::vector<double> hd(hv.begin(), hv.end());
  qmath::Scheme s;
  s.bits = bits;
  s.groupSize = groupSize;
  s.symmetric = !asym;
  gptq::Options o;
  o.damp = damp;
  o.blockSize = blockSize;
  o.actOrder = actOrder;
  o.staticGroups = staticGroups;
  auto r = gptq::quantize(s, wv.data(), rows, cols, hd, o);
  if (!r)
    return fail(llvm::toString(r.takeError()));
  ParameterStore out;
  out.set("q", TensorView::fromFloats({rows, cols}, r->weight.dequantize()));
  out.set("rtn", TensorView::fromFloats(
                     {rows, cols}, qmath::quantizeRTN(s, wv.data(), rows, cols).dequantize()));
  if (llvm::Error err = out.save(outPath))
    return fail(llvm::toString(std::move(err)));
  return 0;
}
