//===- TextCheck.h - is a file's content text? -------------------*- C++ -*-===//
#ifndef QOPT_SUPPORT_TEXTCHECK_H
#define QOPT_SUPPORT_TEXTCHECK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace qopt {

/// Success when `text` is UTF-8 without NUL bytes; otherwise an error
/// "NAME is not UTF-8 text (byte 0xNN at offset K)", so that a binary file
/// given as evaluation or calibration text is refused, not scored.
llvm::Error checkText(llvm::StringRef text, const llvm::Twine &name);

} // namespace qopt

#endif
