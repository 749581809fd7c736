export * from './codec';
export { EINITTOKEN } from './einittoken';
export { KEYREQUEST } from './keyrequest';
export { PAGEINFO } from './pageinfo';
export { PCMD } from './pcmd';
export { REPORT, REPORTDATA_SIZE, TARGETINFO } from './report';
export { SECINFO } from './secinfo';
export { SECS } from './secs';
export { SIGSTRUCT, SIGSTRUCT_SIGNED_RANGES } from './sigstruct';
export { EXINFO, EXITINFO_TYPE_SHIFT, EXITINFO_VALID, GPRSGX } from './ssa';
export { TCS } from './tcs';

import { EINITTOKEN } from './einittoken';
import { KEYREQUEST } from './keyrequest';
import { PAGEINFO } from './pageinfo';
import { PCMD } from './pcmd';
import { REPORT, TARGETINFO } from './report';
import { SECINFO } from './secinfo';
import { SECS } from './secs';
import { SIGSTRUCT } from './sigstruct';
import { EXINFO, GPRSGX } from './ssa';
import { TCS } from './tcs';

/** Every architectural layout, for docs and table-driven tests. */
export const ALL_LAYOUTS = [
  SECS,
  TCS,
  GPRSGX,
  EXINFO,
  SECINFO,
  PAGEINFO,
  PCMD,
  SIGSTRUCT,
  EINITTOKEN,
  REPORT,
  TARGETINFO,
  KEYREQUEST,
];
