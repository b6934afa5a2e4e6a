/* logits_file.h - see logits_file.c. */
#ifndef QRT_LOGITS_FILE_H
#define QRT_LOGITS_FILE_H

#include "qrt.h"

/* Runs `prompt` (with BOS) from position 0 and writes its logits to `path`
 * as .npy. 0, or -1 with a one-line message. */
int qrt_write_prompt_logits(qrt_model *m, const char *prompt, const char *path, char *err,
                            size_t len);

#endif
