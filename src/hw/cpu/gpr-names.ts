/** The 64-bit general-purpose registers in their encoding order (SDM Vol. 2 §2.1.5, Table 2-2): RAX = 0 … R15 = 15. */
export const GPR64_NAMES = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const;

export type Gpr64Name = (typeof GPR64_NAMES)[number];
