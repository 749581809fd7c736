/** memfd_create(2) flags (uAPI `linux/memfd.h`; MFD_NOEXEC_SEAL and MFD_EXEC are Linux 6.3+). */
export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;
/** mm/memfd.c MFD_ALL_FLAGS. */
export const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
/** "memfd:", prefixed to the name in the dentry (mm/memfd.c MFD_NAME_PREFIX). */
export const MFD_NAME_PREFIX = 'memfd:';
/** NAME_MAX − strlen("memfd:") (mm/memfd.c MFD_NAME_MAX_LEN). */
export const MFD_NAME_MAX_LEN = 255 - MFD_NAME_PREFIX.length;
