/* weights_file.c - mapping a program's .qrtw and checking it against the
 * program before any backend reads it (qrt_common.h). */
#include "qrt_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t qrt_slot_row_bytes(const qrtw_slot *s) {
  switch (s->kind) {
  case QRTW_F32:
    return s->cols * 4;
  case QRTW_Q4:
    return (s->cols + 31) / 32 * 16;
  default:
    return s->cols;
  }
}

static int in_file(uint64_t offset, uint64_t bytes, size_t size) {
  return offset <= size && bytes <= size - offset;
}

/* a * b and a + b in uint64, or 0 on overflow: every size computed from
 * the file's fields goes through these. */
static int mul_size(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static int add_size(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

/* Why slot s's own fields are inconsistent, or NULL: the kernels index
 * rows, groups and outlier columns by these without further checks. */
static const char *malformed(const qrtw_slot *s) {
  if (s->rows <= 0 || s->cols <= 0)
    return "a shape that is not positive";
  if (s->kind != QRTW_F32 && s->kind != QRTW_Q4 && s->kind != QRTW_CODES)
    return "an unknown kind";
  if (s->kind == QRTW_F32)
    return s->outliers != 0 ? "outlier columns on f32 weights" : NULL;
  if (s->format != QRTW_FORMAT_INT && s->format != QRTW_FORMAT_NF4)
    return "an unknown code format";
  if (s->bits < 2 || s->bits > 8 || (s->kind == QRTW_Q4 && s->bits != 4) ||
      (s->format == QRTW_FORMAT_NF4 && (s->bits != 4 || s->kind != QRTW_CODES)))
    return "code bits its kind cannot hold";
  if (s->groups_per_row < 0 || s->groups_per_row > s->cols)
    return "a group count out of range";
  uint64_t covered;
  if (s->groups_per_row > 0 &&
      (s->group_width <= 0 || !mul_size((uint64_t)s->group_width, (uint64_t)s->groups_per_row,
                                        &covered) ||
       covered > (uint64_t)s->cols))
    return "groups that do not fit the row";
  if (s->outliers < 0 || s->outliers > s->cols)
    return "an outlier count out of range";
  return NULL;
}

/* Resolves slot i against the map; 0 on success. */
static int resolve_slot(qrt_weights_file *f, int64_t i, const qrtw_slot *s, char *err,
                        size_t len) {
  qrt_weight *w = &f->weights[i];
  w->slot = s;
  const char *why = malformed(s);
  if (why) {
    qrt_set_error(err, len, "weights slot %lld (%.*s) is malformed: %s", (long long)i,
                  QRTW_NAME_LEN, s->name, why);
    return -1;
  }
  uint64_t rows = (uint64_t)s->rows, cols = (uint64_t)s->cols;
  uint64_t row_bytes, data, groups = 1, scale_bytes = 0, outlier_weights = 0, tail, bytes;
  int ok = mul_size(cols, s->kind == QRTW_F32 ? 4 : 1, &row_bytes) &&
           mul_size(s->kind == QRTW_Q4 ? (cols + 31) / 32 * 16 : row_bytes, rows, &data) &&
           (!s->groups_per_row || mul_size(rows, (uint64_t)s->groups_per_row, &groups)) &&
           mul_size(groups, s->scales_f32 ? 4 : 2, &scale_bytes) &&
           mul_size((uint64_t)s->outliers, rows, &outlier_weights) &&
           mul_size(outlier_weights, 4, &outlier_weights);
  if (!ok) {
    qrt_set_error(err, len, "weights slot %lld (%.*s) is malformed: its size overflows",
                  (long long)i, QRTW_NAME_LEN, s->name);
    return -1;
  }
  ok = data == s->data_bytes && in_file(s->data_offset, data, f->map_bytes);
  if (s->kind != QRTW_F32)
    ok = ok && in_file(s->scales_offset, scale_bytes, f->map_bytes) &&
         in_file(s->zeros_offset, groups, f->map_bytes) &&
         in_file(s->outlier_index_offset, (uint64_t)s->outliers * 4, f->map_bytes) &&
         in_file(s->outlier_weight_offset, outlier_weights, f->map_bytes);
  if (!ok) {
    qrt_set_error(err, len, "weights slot %lld (%.*s) points outside the file", (long long)i,
                  QRTW_NAME_LEN, s->name);
    return -1;
  }
  /* within the file now, so the int64 arithmetic of kernels cannot wrap */
  w->row_bytes = qrt_slot_row_bytes(s);
  w->data = f->map + s->data_offset;
  /* f32 slots have no scales, zeros or outliers: their offsets are not
   * checked, so no pointer is formed from them */
  if (s->kind != QRTW_F32) {
    w->scales = f->map + s->scales_offset;
    w->zeros = f->map + s->zeros_offset;
    w->outlier_index = (const int32_t *)(f->map + s->outlier_index_offset);
    w->outlier_weight = (const float *)(f->map + s->outlier_weight_offset);
  }
  for (int64_t j = 0; j < s->outliers; ++j)
    if (w->outlier_index[j] < 0 || w->outlier_index[j] >= s->cols) {
      qrt_set_error(err, len, "weights slot %lld (%.*s) has an outlier channel out of range",
                    (long long)i, QRTW_NAME_LEN, s->name);
      return -1;
    }
  /* all bounded by the file's size, so the sums cannot wrap either */
  tail = s->kind == QRTW_F32 ? 0 : scale_bytes + groups;
  if (!add_size(data, tail, &bytes) || !add_size(bytes, outlier_weights, &bytes) ||
      !add_size(bytes, (uint64_t)s->outliers * 4, &bytes))
    bytes = UINT64_MAX;
  f->weight_bytes += bytes;
  f->decode_bytes += (s->flags & QRTW_SLOT_GATHER_ONLY) ? bytes / rows : bytes;
  int64_t g = s->groups_per_row ? s->groups_per_row : 1;
  if (g > f->max_groups)
    f->max_groups = g;
  if (s->cols > f->max_cols)
    f->max_cols = s->cols;
  return 0;
}

static int map_file(qrt_weights_file *f, const char *path, char *err, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    qrt_set_error(err, len, "%s: cannot open weights file: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(qrtw_header)) {
    close(fd);
    qrt_set_error(err, len, "%s: too short for a weights file (%lld bytes)", path,
                  (long long)st.st_size);
    return -1;
  }
  f->map_bytes = (size_t)st.st_size;
  void *p = mmap(NULL, f->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    qrt_set_error(err, len, "%s: mmap failed: %s", path, strerror(errno));
    return -1;
  }
  f->map = (const uint8_t *)p;
  return 0;
}

static int check_file(qrt_weights_file *f, const char *path, const qrt_program_config *cfg, char *err,
                      size_t len) {
  const qrtw_header *h = (const qrtw_header *)f->map;
  f->num_slots = cfg->num_slots;
  if (memcmp(h->magic, QRTW_MAGIC, 8) != 0) {
    qrt_set_error(err, len, "%s: not a qopt weights file (bad magic)", path);
    return -1;
  }
  if (h->file_bytes != f->map_bytes) {
    qrt_set_error(err, len, "%s: weights file is %s (%llu of %llu bytes)", path,
                  f->map_bytes < h->file_bytes ? "truncated" : "longer than recorded",
                  (unsigned long long)f->map_bytes, (unsigned long long)h->file_bytes);
    return -1;
  }
  if (h->program_hash != (uint64_t)cfg->program_hash || h->num_slots != (uint64_t)f->num_slots) {
    qrt_set_error(err, len,
                  "%s: weights were built for a different program (hash %016llx, %u slots; "
                  "this program expects %016llx, %lld slots)",
                  path, (unsigned long long)h->program_hash, h->num_slots,
                  (unsigned long long)cfg->program_hash, (long long)f->num_slots);
    return -1;
  }
  if (!in_file(sizeof(qrtw_header), sizeof(qrtw_slot) * (uint64_t)f->num_slots, f->map_bytes)) {
    qrt_set_error(err, len, "%s: slot table is truncated", path);
    return -1;
  }
  const qrtw_slot *slots = (const qrtw_slot *)(f->map + sizeof(qrtw_header));
  if (!in_file(h->tokenizer_offset, h->tokenizer_bytes, f->map_bytes)) {
    qrt_set_error(err, len, "%s: tokenizer section points outside the file", path);
    return -1;
  }
  uint64_t content = qrtw_content_hash(slots, (uint64_t)f->num_slots,
                                       f->map + h->tokenizer_offset, h->tokenizer_bytes);
  if (content != h->content_hash) {
    qrt_set_error(err, len,
                  "%s: the slot table or the tokenizer changed after the file was built "
                  "(content hash %016llx, recorded %016llx): rebuild it",
                  path, (unsigned long long)content, (unsigned long long)h->content_hash);
    return -1;
  }
  f->weights = (qrt_weight *)calloc((size_t)f->num_slots, sizeof(qrt_weight));
  if (!f->weights) {
    qrt_set_error(err, len, "out of memory");
    return -1;
  }
  f->max_groups = f->max_cols = 1;
  for (int64_t i = 0; i < f->num_slots; ++i)
    if (resolve_slot(f, i, &slots[i], err, len) != 0)
      return -1;
  if (h->tokenizer_bytes) {
    f->tokenizer = qrt_tokenizer_load(f->map + h->tokenizer_offset, h->tokenizer_bytes, cfg->vocab,
                                      err, len);
    if (!f->tokenizer)
      return -1;
  }
  return 0;
}

int qrt_weights_open(qrt_weights_file *f, const char *path, const qrt_program_config *config,
                     char *err, size_t len) {
  memset(f, 0, sizeof *f);
  /* an object compiled against another contract would misread everything */
  if (qopt_program_abi_version != QRT_ABI_VERSION) {
    qrt_set_error(err, len,
                  "the program was compiled for runtime ABI version %lld, this runtime is "
                  "version %d: rebuild it with the same qopt",
                  (long long)qopt_program_abi_version, QRT_ABI_VERSION);
    return -1;
  }
  if (map_file(f, path, err, len) != 0 || check_file(f, path, config, err, len) != 0) {
    qrt_weights_close(f);
    return -1;
  }
  return 0;
}

int qrt_weights_check(qrt_weights_file *f, const uint8_t *bytes, size_t size, const char *name,
                      const qrt_program_config *config, char *err, size_t len) {
  memset(f, 0, sizeof *f);
  f->map = bytes;
  f->map_bytes = size;
  f->borrowed = 1;
  if (size < sizeof(qrtw_header)) {
    qrt_set_error(err, len, "%s: too short for a weights file (%llu bytes)", name,
                  (unsigned long long)size);
    qrt_weights_close(f);
    return -1;
  }
  if (check_file(f, name, config, err, len) != 0) {
    qrt_weights_close(f);
    return -1;
  }
  return 0;
}

void qrt_weights_close(qrt_weights_file *f) {
  if (f->map && !f->borrowed)
    munmap((void *)(uintptr_t)f->map, f->map_bytes);
  free(f->weights);
  qrt_tokenizer_free(f->tokenizer);
  memset(f, 0, sizeof *f);
}
