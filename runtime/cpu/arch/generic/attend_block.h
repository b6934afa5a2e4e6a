/* attend_block.h (portable) - no block attention (QRT_ARCH_ATTEND_BLOCK is
 * NULL): prefill runs attend_head per query. */
