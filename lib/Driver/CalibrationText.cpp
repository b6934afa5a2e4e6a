//===- CalibrationText.cpp -------------------------------------------------===//
#include "qopt/Driver/CalibrationText.h"

#include "qopt/Driver/Perplexity.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/TextCheck.h"

#include "llvm/Support/MemoryBuffer.h"

namespace qopt {

llvm::Expected<CalibrationSet> loadCalibrationText(llvm::StringRef path,
                                                   const Tokenizer &tokenizer, int64_t samples,
                                                   int64_t seqLen) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return makeError("cannot read calibration text '" + path +
                     "': " + buffer.getError().message());
  llvm::StringRef text = (*buffer)->getBuffer();
  if (llvm::Error err = checkText(text, "calibration text '" + path + "'"))
    return std::move(err);
  if (text.trim().empty())
    return makeError("calibration text '" + path + "' is empty");
  auto set = makeCalibrationSet(encodeDocuments(tokenizer, text), samples, seqLen);
  if (!set)
    return makeError("calibration text '" + path + "': " + llvm::toString(set.takeError()));
  return set;
}

} // namespace qopt
