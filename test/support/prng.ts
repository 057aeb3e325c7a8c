/** The seeded PRNG the simulators use, for fuzzing and noisy scenarios in tests. */
export { prng } from '../../simulators/prng.ts';
