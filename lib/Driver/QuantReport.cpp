//===- QuantReport.cpp -----------------------------------------------------===//
#include "qopt/Driver/QuantReport.h"

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/QuantScheme.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "llvm/Support/Format.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sys/resource.h>

namespace qopt {

llvm::Error describeQuantization(mlir::ModuleOp module, const ParameterStore &store,
                                 QuantReport &report) {
  double bits = 0;
  llvm::Error failure = llvm::Error::success();
  module.walk([&](qnt::LinearOp linear) {
    if (failure)
      return;
    mlir::Operation *w = linear.getWeight().getDefiningOp();
    LayerReport layer;
    if (auto p = llvm::dyn_cast_or_null<qnt::ParamOp>(w)) {
      layer.name = p.getName().str();
      layer.rows = p.getType().getDimSize(0);
      layer.cols = p.getType().getDimSize(1);
      const TensorView *t = store.lookup(layer.name);
      layer.bits = t ? int64_t(dtypeSize(t->dtype) * 8) : 32;
      layer.bitsPerWeight = double(layer.bits);
      layer.scheme = t ? std::string(dtypeName(t->dtype)) : "f32";
    } else if (auto q = llvm::dyn_cast_or_null<qnt::QParamOp>(w)) {
      layer.name = q.getName().str();
      layer.rows = q.getType().getDimSize(0);
      layer.cols = q.getType().getDimSize(1);
      qmath::Scheme s = qmath::Scheme::fromAttr(q.getScheme());
      auto loaded = qmath::loadQuantized(store, layer.name, s, layer.rows, layer.cols,
                                         q.getScheme().getOutliers());
      if (!loaded) {
        failure = loaded.takeError();
        return;
      }
      layer.scheme = s.describe();
      layer.bits = s.bits;
      layer.groupSize = s.groupSize;
      layer.bitsPerWeight = loaded->bitsPerWeight();
      layer.outliers = q.getScheme().getOutliers();
      double lo = INFINITY, hi = 0, sum = 0;
      for (const qmath::GroupParams &gp : loaded->params) {
        double a = std::fabs(gp.scale);
        lo = std::min(lo, a);
        hi = std::max(hi, a);
        sum += a;
      }
      layer.scaleMin = lo;
      layer.scaleMax = hi;
      layer.scaleMean = sum / double(loaded->params.size());
      if (auto err = q->getAttrOfType<mlir::FloatAttr>(kRelErrorAttr))
        layer.relError = err.getValueAsDouble();
    } else {
      return;
    }
    bits += layer.bitsPerWeight * double(layer.rows * layer.cols);
    report.linearWeights += layer.rows * layer.cols;
    report.layers.push_back(std::move(layer));
  });
  if (failure)
    return failure;
  report.linearBitsPerWeight = report.linearWeights ? bits / double(report.linearWeights) : 0;
  report.storedBytes = 0;
  for (const std::string &name : qmath::referencedTensorNames(module))
    if (const TensorView *t = store.lookup(name))
      report.storedBytes += int64_t(t->nbytes);
  report.activationQuantPoints = 0;
  module.walk([&](mlir::Operation *op) {
    if (llvm::isa<mlir::quant::QuantizeCastOp, qnt::DynamicQuantOp>(op))
      ++report.activationQuantPoints;
  });
  return llvm::Error::success();
}

void writeReportJson(const QuantReport &r, llvm::raw_ostream &os) {
  nlohmann::json j;
  j["model"] = r.model;
  j["recipe"] = r.recipe;
  j["pipeline"] = r.pipeline;
  j["linear_weights"] = r.linearWeights;
  j["linear_bits_per_weight"] = r.linearBitsPerWeight;
  j["float_parameter_bytes"] = r.floatBytes;
  j["stored_parameter_bytes"] = r.storedBytes;
  j["activation_quant_points"] = r.activationQuantPoints;
  j["seconds"] = r.seconds;
  j["peak_rss_bytes"] = r.peakRssBytes;
  if (!r.calibrationFile.empty())
    j["calibration"] = {{"file", r.calibrationFile},
                        {"samples", r.calibrationSamples},
                        {"seq_len", r.calibrationSeqLen}};
  nlohmann::json passes = nlohmann::json::array();
  for (const PassTiming &t : r.passTimes) {
    nlohmann::json entry = {{"pass", t.pass}, {"seconds", t.seconds}};
    if (t.calibrationTokens > 0)
      entry["calibration_forward"] = {{"tokens", t.calibrationTokens},
                                      {"seconds", t.calibrationSeconds}};
    passes.push_back(entry);
  }
  j["passes"] = passes;
  if (r.pplBefore) {
    j["eval"] = {{"tokens", r.evalTokens},
                 {"nll_before", *r.nllBefore},
                 {"ppl_before", *r.pplBefore}};
  }
  if (r.pplAfter) {
    j["eval"]["tokens"] = r.evalTokens;
    j["eval"]["nll_after"] = *r.nllAfter;
    j["eval"]["ppl_after"] = *r.pplAfter;
  }
  if (r.klMean) {
    j["eval"]["kl_mean"] = *r.klMean;
    j["eval"]["kl_max"] = *r.klMax;
    j["eval"]["top1_agreement"] = *r.top1Agreement;
  }
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerReport &l : r.layers) {
    nlohmann::json e = {{"name", l.name},
                        {"shape", {l.rows, l.cols}},
                        {"scheme", l.scheme},
                        {"bits", l.bits},
                        {"group_size", l.groupSize},
                        {"bits_per_weight", l.bitsPerWeight},
                        {"outlier_channels", l.outliers}};
    if (l.scheme.rfind("int", 0) == 0 || l.scheme.rfind("nf4", 0) == 0)
      e["scale"] = {{"min", l.scaleMin}, {"max", l.scaleMax}, {"mean", l.scaleMean}};
    if (l.relError)
      e["relative_error"] = *l.relError;
    layers.push_back(e);
  }
  j["layers"] = layers;
  os << j.dump(2) << "\n";
}

void printReportTable(const QuantReport &r, llvm::raw_ostream &os) {
  os << llvm::format("%-22s %-9s %-22s %6s %10s %10s %9s\n", "linear", "shape", "scheme", "bpw",
                     "|scale|min", "|scale|max", "rel.err");
  for (const LayerReport &l : r.layers) {
    std::string shape = std::to_string(l.rows) + "x" + std::to_string(l.cols);
    std::string scheme = l.scheme + (l.outliers ? " +" + std::to_string(l.outliers) + "out" : "");
    os << llvm::format("%-22s %-9s %-22s %6.3f ", l.name.c_str(), shape.c_str(), scheme.c_str(),
                       l.bitsPerWeight);
    if (l.scaleMax > 0)
      os << llvm::format("%10.3g %10.3g ", l.scaleMin, l.scaleMax);
    else
      os << llvm::format("%10s %10s ", "-", "-");
    if (l.relError)
      os << llvm::format("%9.2e\n", *l.relError);
    else
      os << llvm::format("%9s\n", "-");
  }
  os << llvm::format("linears: %lld weights, %.3f bits per weight (scales and zero points "
                     "counted)\n",
                     (long long)r.linearWeights, r.linearBitsPerWeight);
  os << llvm::format("parameters: %.1f KiB -> %.1f KiB", r.floatBytes / 1024.0,
                     r.storedBytes / 1024.0);
  if (r.activationQuantPoints)
    os << llvm::format(", %lld activation quantization points",
                       (long long)r.activationQuantPoints);
  os << "\n";
  if (r.pplBefore && r.pplAfter)
    os << llvm::format("perplexity: %.4f -> %.4f (%+.2f%%) over %lld tokens\n", *r.pplBefore,
                       *r.pplAfter, 100.0 * (*r.pplAfter / *r.pplBefore - 1.0),
                       (long long)r.evalTokens);
  else if (r.pplAfter)
    os << llvm::format("perplexity: %.4f over %lld tokens\n", *r.pplAfter,
                       (long long)r.evalTokens);
  if (r.klMean)
    os << llvm::format("KL(float || quantized): mean %.6f, max %.4f nats; top-1 agreement "
                       "%.2f%%\n",
                       *r.klMean, *r.klMax, 100.0 * *r.top1Agreement);
  if (!r.passTimes.empty()) {
    os << "passes:";
    for (const PassTiming &t : r.passTimes)
      os << llvm::format(" %s %.1f s;", t.pass.c_str(), t.seconds);
    os << "\n";
  }
  for (const PassTiming &t : r.passTimes)
    if (t.calibrationTokens > 0 && t.calibrationSeconds > 0)
      os << llvm::format("  %s calibration forward: %lld tokens in %.1f s (%.0f tok/s)\n",
                         t.pass.c_str(), (long long)t.calibrationTokens, t.calibrationSeconds,
                         double(t.calibrationTokens) / t.calibrationSeconds);
  os << llvm::format("peak memory: %.1f MiB resident\n", r.peakRssBytes / 1048576.0);
}

int64_t peakResidentBytes() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0)
    return 0;
  return int64_t(usage.ru_maxrss) * 1024; // Linux reports KiB
}

} // namespace qopt
