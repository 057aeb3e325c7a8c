/**
 * A generic DL/T 645-2007 three-phase meter (CHINT DTSU666 in 645 mode, and
 * most three-phase meters in Chinese distribution rooms): what the agent
 * reads, one request per identifier. The formats come from the standard's
 * table (edge-agent/dlt645/identifiers.ts) when a read leaves them out.
 *
 * Currents are signed in 645 (the sign gives the direction of the power
 * flow); the contract's ia/ib/ic are magnitudes, so the profile takes |I|.
 * Meters that do not answer the block identifiers (DI1 = FF) use the
 * `-single` variant: three requests where the block takes one. Both read
 * the running status word 7 (04000507) once a minute for the phase sequence;
 * a meter that refuses it is not asked again.
 */
import type { Dlt645ProfileInput } from '../dlt645/profile.ts';

const tail: Dlt645ProfileInput['reads'] = [
  { di: '02030000', quantities: ['p'] },
  { di: '02030100', quantities: ['pa'] },
  { di: '02030200', quantities: ['pb'] },
  { di: '02030300', quantities: ['pc'] },
  { di: '02040000', quantities: ['q'] },
  { di: '02060000', quantities: ['pf'] },
  { di: '02800002', quantities: ['f'] },
  { di: '00010000', quantities: ['ep_imp'] },
  { di: '00020000', quantities: ['ep_exp'] },
];

export const dlt645ThreePhaseProfile: Dlt645ProfileInput = {
  id: 'dlt645-3p',
  description: 'DL/T 645-2007 three-phase meter; voltages and currents read as blocks (0201FF00, 0202FF00)',
  // running status word 7 once a minute: its bit 0 is the reversed phase sequence (phase_seq_rev)
  status: { everyS: 60 },
  reads: [
    { di: '0201FF00', quantities: ['ua', 'ub', 'uc'] },
    { di: '0202FF00', quantities: ['ia', 'ib', 'ic'], magnitude: true },
    ...tail,
  ],
};

export const dlt645ThreePhaseSingleProfile: Dlt645ProfileInput = {
  id: 'dlt645-3p-single',
  description: 'DL/T 645-2007 three-phase meter without block identifiers: one request per phase',
  status: { everyS: 60 },
  reads: [
    { di: '02010100', quantities: ['ua'] },
    { di: '02010200', quantities: ['ub'] },
    { di: '02010300', quantities: ['uc'] },
    { di: '02020100', quantities: ['ia'], magnitude: true },
    { di: '02020200', quantities: ['ib'], magnitude: true },
    { di: '02020300', quantities: ['ic'], magnitude: true },
    ...tail,
  ],
};
