/* huge_pages.c - zeroed memory for the large buffers decode streams every
 * step (weight tiles, the KV cache), on 2 MiB pages where the system gives
 * them.
 *
 * Decode walks tens to hundreds of MiB per token; on 4 KiB pages that is a
 * TLB miss every few cache lines of a strided walk. Anonymous memory gets
 * huge pages only when asked on common distributions (THP "madvise"), so
 * buffers of a huge page or more are aligned to one and asked for them.
 * Elsewhere this is plain aligned memory. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *qrt_huge_alloc(size_t bytes) {
  size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  void *p = NULL;
  if (posix_memalign(&p, bytes >= HUGE_PAGE ? HUGE_PAGE : 64, rounded ? rounded : 64) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  if (bytes >= HUGE_PAGE)
    madvise(p, rounded, MADV_HUGEPAGE);
#endif
  memset(p, 0, rounded ? rounded : 64);
  return p;
}
