/** x86 4-KiB paging (SDM Vol. 3A §4.5): the only page size the model uses. */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
