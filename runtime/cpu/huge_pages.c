/* huge_pages.c - zeroed memory for the weight tiles decode streams every
 * step, on 2 MiB pages where the system gives them.
 *
 * Decode walks hundreds of MiB of tiles per token; on 2 MiB pages that
 * takes few TLB misses. Anonymous memory gets huge pages only when asked on
 * common distributions (THP "madvise"), so buffers of a huge page or more
 * are aligned to one and asked for them. The memory comes straight from
 * mmap and is faulted in when first written: the tiles are written whole at
 * load, so the kernel's work to find huge pages is paid there. The KV
 * cache, filled during generation, stays on ordinary pages (model.c). */
#include "internal.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4096)

/* Below a huge page, whole small pages (a huge page would mostly waste). */
static size_t page_of(size_t bytes) { return bytes >= HUGE_PAGE ? HUGE_PAGE : SMALL_PAGE; }
static size_t rounded(size_t bytes) {
  size_t page = page_of(bytes);
  return (bytes ? bytes + page - 1 : page) / page * page;
}

void *qrt_huge_alloc(size_t bytes) {
  size_t size = rounded(bytes), page = page_of(bytes);
  /* for huge pages, one more to cut an aligned run out of */
  size_t extra = page == HUGE_PAGE ? HUGE_PAGE : 0;
  uint8_t *raw = (uint8_t *)mmap(NULL, size + extra, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return NULL;
  if (!extra)
    return raw;
  uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (p > raw)
    munmap(raw, (size_t)(p - raw));
  if (p + size < raw + size + extra)
    munmap(p + size, (size_t)(raw + size + extra - (p + size)));
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

void qrt_huge_free(void *p, size_t bytes) {
  if (p)
    munmap(p, rounded(bytes));
}
