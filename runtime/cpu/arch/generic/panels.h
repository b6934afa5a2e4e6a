/* panels.h (portable) - no prefill panels: QRT_ARCH_ROWS_PREFILL is NULL
 * and prefill runs linear_rows. */
