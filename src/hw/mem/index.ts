export * from './page';
export * from './phys-mem';
