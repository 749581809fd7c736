export * from './elf64';
