export {
  attributeNames,
  formatSigstruct,
  inspectSigstruct,
  type SigstructCheck,
  type SigstructCheckName,
  type SigstructInfo,
  sigstructToJson,
} from './inspect-sigstruct';
export { bcdDate, isBcd, SELFTEST_SIGSTRUCT_DEFAULTS, type SigstructFields, signSigstruct } from './sign-sigstruct';
export { checkSigningKey, mrSignerOfKey, SIGSTRUCT_EXPONENT, SIGSTRUCT_MODULUS_BITS } from './signing-key';
