// Linux-defined numbers and layouts (gVisor pkg/abi/linux). Nothing here models behaviour.
export * from './errno';
export * from './fcntl';
export * from './futex';
export * from './ioctl';
export * from './memfd';
export * from './mman';
export * from './resource';
export * from './sched';
export * from './signal';
export * from './socket';
export * from './structs';
export * from './syscall-nr';
export * from './time';
export * from './wait';
