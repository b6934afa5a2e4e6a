//===- Error.h - one-line errors for qopt -----------------------*- C++ -*-===//
#ifndef QOPT_SUPPORT_ERROR_H
#define QOPT_SUPPORT_ERROR_H

#include "llvm/Support/Error.h"
#include "llvm/ADT/Twine.h"

namespace qopt {

/// An error whose message is a complete one-line sentence for the user.
inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace qopt

#endif
