/**
 * One simulated meter behind a gateway: its model, its register map and the
 * faults in force. Decides each answer (data, exception, silence, garbage,
 * delay); the servers only frame it. Time is the clock passed in.
 */
import {
  applyElectricalFaults,
  faultProblems,
  type ActiveFault,
  type Fault,
  type FaultKind,
  type GarbageMode,
} from './faults.ts';
import type { MeterModel, MeterValues } from './meter-model.ts';
import { exceptionPdu, functionCodeOf, handlePdu } from './modbus-pdu.ts';
import type { RegisterMap } from './register-map.ts';
import { SimulatorError } from './errors.ts';

export type UnitAnswer =
  /** no answer at all (dead unit) */
  | { kind: 'silent' }
  /** this PDU after `delayMs`; when `garbage` is set the server breaks the frame that way */
  | { kind: 'answer'; pdu: Buffer; delayMs: number; garbage?: GarbageMode };

export class MeterUnit {
  private active: ActiveFault[] = [];
  private frozen: MeterValues | null = null;
  private lastEnergy: { imp: number; exp: number } | null = null;
  private readonly energyOffset = { imp: 0, exp: 0 };

  constructor(
    readonly unitId: number,
    readonly model: MeterModel,
    readonly map: RegisterMap,
    private readonly clock: () => number,
    private readonly random: () => number,
  ) {}

  /** Puts a fault in force (replacing one of the same kind), for `durationMs` or until cleared. */
  setFault(fault: Fault, durationMs?: number): void {
    const problems = faultProblems(fault);
    if (problems.length) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `fault ${fault.kind} on unit ${this.unitId}: ${problems.join('; ')}`);
    const now = this.clock();
    if (fault.kind === 'frozen') this.frozen = null; // snapshot at the next sample
    const a: ActiveFault = { fault, since: now };
    if (durationMs !== undefined) a.until = now + durationMs;
    this.active = [...this.active.filter((x) => x.fault.kind !== fault.kind), a];
  }

  /** Ends the faults of that kind, or all of them. */
  clearFault(kind?: FaultKind): void {
    this.active = kind ? this.active.filter((x) => x.fault.kind !== kind) : [];
    if (!this.active.some((x) => x.fault.kind === 'frozen')) this.frozen = null;
  }

  /** The faults in force at `now` (expired ones are dropped). */
  faults(now = this.clock()): readonly ActiveFault[] {
    if (this.active.some((a) => a.until !== undefined && a.until <= now)) {
      this.active = this.active.filter((a) => a.until === undefined || a.until > now);
      if (!this.active.some((x) => x.fault.kind === 'frozen')) this.frozen = null;
    }
    return this.active;
  }

  private has(kind: FaultKind, faults: readonly ActiveFault[]): Fault | undefined {
    return faults.find((a) => a.fault.kind === kind)?.fault;
  }

  /** What the meter measures at `now`, faults included. */
  values(now = this.clock()): MeterValues {
    const faults = this.faults(now);
    const raw = this.model.sample(now);
    // an outage stops the energy counters: what the model integrates meanwhile is held back
    if (this.lastEnergy && this.has('outage', faults)) {
      this.energyOffset.imp += Math.max(0, raw.ep_imp - this.lastEnergy.imp);
      this.energyOffset.exp += Math.max(0, raw.ep_exp - this.lastEnergy.exp);
    }
    this.lastEnergy = { imp: raw.ep_imp, exp: raw.ep_exp };
    if (this.has('frozen', faults) && this.frozen) return this.frozen;
    const v = applyElectricalFaults(raw, faults, now);
    if (v === raw && (this.energyOffset.imp || this.energyOffset.exp)) {
      const c = { ...raw };
      c.ep_imp -= this.energyOffset.imp;
      c.ep_exp -= this.energyOffset.exp;
      return this.freeze(c, faults);
    }
    v.ep_imp -= this.energyOffset.imp;
    v.ep_exp -= this.energyOffset.exp;
    return this.freeze(v, faults);
  }

  private freeze(v: MeterValues, faults: readonly ActiveFault[]): MeterValues {
    if (this.has('frozen', faults)) this.frozen = v;
    return v;
  }

  /** The answer to one request PDU. */
  answer(pdu: Uint8Array): UnitAnswer {
    const now = this.clock();
    const faults = this.faults(now);
    if (this.has('dead', faults)) return { kind: 'silent' };
    const slow = this.has('slow', faults);
    const delayMs = slow?.kind === 'slow' ? slow.delayMs : 0;
    const exc = this.has('exception', faults);
    if (exc?.kind === 'exception' && this.random() < (exc.probability ?? 1))
      return { kind: 'answer', pdu: exceptionPdu(Math.max(0, functionCodeOf(pdu)), exc.code ?? 4), delayMs };
    const out = handlePdu(this.map, () => this.values(now), pdu);
    const g = this.has('garbage', faults);
    if (g?.kind === 'garbage' && this.random() < (g.probability ?? 1)) return { kind: 'answer', pdu: out, delayMs, garbage: g.mode ?? 'random' };
    return { kind: 'answer', pdu: out, delayMs };
  }
}
