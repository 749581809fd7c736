/**
 * The _IOC encoding (uAPI `asm-generic/ioctl.h`): dir << 30 | size << 16 | type << 8 | nr, with
 * _IOC_WRITE = 1 and _IOC_READ = 2. Drivers build their command numbers with these.
 */
export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

export function _IOC(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
export function _IO(type: number, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}
export function _IOR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}
export function _IOW(type: number, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}
export function _IOWR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}
export function _IOC_NR(cmd: number): number {
  return cmd & 0xff;
}
export function _IOC_TYPE(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}
export function _IOC_SIZE(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}
export function _IOC_DIR(cmd: number): number {
  return (cmd >>> 30) & 0x3;
}

/** Generic ioctls the VFS handles itself before the driver (fs/ioctl.c do_vfs_ioctl). */
export const FIOCLEX = 0x5451;
export const FIONCLEX = 0x5450;
export const FIONBIO = 0x5421;
export const FIONREAD = 0x541b;
