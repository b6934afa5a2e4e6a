//===- ExportCommand.cpp - qopt export -------------------------------------===//
//
//   qopt export MODEL --format gguf -o model.gguf [--allow-requant]
//   qopt export MODEL --format hf-gptq -o DIR
//
// Writes a model (quantized by `qopt compile` or not) in another runtime's
// format and prints, per tensor, the type it went to and whether it is
// exact.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/Export/GgufExport.h"
#include "qopt/Export/HfGptqExport.h"
#include "qopt/Support/Error.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required,
                                     cl::desc("<model .mlir, llama2.c .bin or HF directory>"),
                                     cl::sub(exportCmd), cl::cat(category));
static cl::opt<std::string> outputOpt("o", cl::Required,
                                      cl::desc("Output file (gguf) or new directory (hf-gptq)"),
                                      cl::value_desc("path"), cl::sub(exportCmd),
                                      cl::cat(category));
static cl::opt<std::string> formatOpt(
    "format",
    cl::desc("Output format: gguf (llama.cpp, ollama; the default) or hf-gptq (a Hugging Face "
             "directory with quantization_config gptq and AutoGPTQ's packing)"),
    cl::init("gguf"), cl::sub(exportCmd), cl::cat(category));
static cl::opt<bool> allowRequantOpt(
    "allow-requant",
    cl::desc("Re-round weights that no GGUF type holds exactly (int3, NF4, int8 asym, LLM.int8 "
             "outliers) to the nearest ggml type, reporting the added error; rows that are not "
             "whole blocks of 32 go to F32 (exact). Without it such weights are refused."),
    cl::sub(exportCmd), cl::cat(category));
static cl::opt<bool> quietOpt("quiet", cl::desc("Print only errors"), cl::sub(exportCmd),
                              cl::cat(category));

static void printReport(const GgufExportReport &r) {
  std::map<std::string, std::pair<int64_t, int64_t>> byType; // elements, bytes
  int64_t inexact = 0;
  for (const ExportedTensor &t : r.tensors) {
    byType[t.ggmlType].first += t.elements;
    byType[t.ggmlType].second += t.bytes;
    if (!t.exact) {
      ++inexact;
      llvm::errs() << llvm::format("  re-rounded %-28s %-18s -> %-5s relative RMS error %.3g\n",
                                   t.ggufName.c_str(), t.scheme.c_str(), t.ggmlType.c_str(),
                                   t.relativeError);
    }
  }
  for (const auto &[type, n] : byType)
    llvm::errs() << llvm::format("  %-5s %10lld weights, %10lld bytes (%.2f bits per weight)\n",
                                 type.c_str(), (long long)n.first, (long long)n.second,
                                 8.0 * double(n.second) / double(n.first));
  for (const std::string &note : r.notes)
    llvm::errs() << "  note: " << note << "\n";
  llvm::errs() << "wrote " << outputOpt << " (" << r.architecture << ", " << r.tensors.size()
               << " tensors, " << r.bytes << " bytes; "
               << (inexact ? std::to_string(inexact) + " re-rounded, the rest exact"
                           : std::string("every weight exact"))
               << ")\n";
}

static llvm::Error exportHfGptqDirectory(const LoadedModel &model) {
  if (allowRequantOpt)
    return makeError("--allow-requant is for --format gguf (hf-gptq writes exact weights only)");
  auto report = exportHfGptq(model, outputOpt);
  if (!report)
    return report.takeError();
  if (quietOpt)
    return llvm::Error::success();
  for (const std::string &note : report->notes)
    llvm::errs() << "  note: " << note << "\n";
  llvm::errs() << "wrote " << outputOpt << "/ (" << report->quantizedLinears << " linears, "
               << report->bits << " bits, group_size " << report->groupSize
               << (report->symmetric ? ", sym" : ", asym") << "; files:";
  for (const std::string &f : report->files)
    llvm::errs() << " " << f;
  llvm::errs() << ")\n";
  return llvm::Error::success();
}

static llvm::Error exportModel() {
  if (formatOpt != "gguf" && formatOpt != "hf-gptq")
    return makeError("unknown --format '" + formatOpt + "' (gguf and hf-gptq are supported)");
  if (auto err = checkOutputDirectory(outputOpt))
    return err;
  auto model = loadModel(modelArg, tokenizerOpt);
  if (!model)
    return model.takeError();
  if (formatOpt == "hf-gptq")
    return exportHfGptqDirectory(*model);
  GgufExportOptions options;
  options.allowRequant = allowRequantOpt;
  auto report = exportGguf(*model, outputOpt, options);
  if (!report)
    return report.takeError();
  if (!quietOpt)
    printReport(*report);
  return llvm::Error::success();
}

int runExport() { return finish("export", exportModel()); }

} // namespace qopt::tool
