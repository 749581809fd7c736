/** Profiles one benchmark row set: `node --cpu-prof --import tsx bench/profile.ts <module>`. */
export {};

const name = process.argv[2] ?? 'sgx.ts';
const mod = (await import(`./${name}`)) as { default: { run(): unknown } };
console.log(await mod.default.run());
