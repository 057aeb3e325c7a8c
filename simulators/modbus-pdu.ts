/**
 * Pure Modbus request handling for the simulated meters: a request PDU in,
 * the response PDU out (Modbus Application Protocol v1.1b3 §6–7). No I/O, no
 * clock; the framing (TCP MBAP, RTU CRC) and the faults live in the servers.
 */
import { MODBUS_EXCEPTION, readRegisters, type RegisterMap } from './register-map.ts';
import type { MeterValues } from './meter-model.ts';

/** An exception response PDU: the function code with its high bit set, then the exception code (§7). */
export function exceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code & 0xff]);
}

/** The request's function code, or -1 for an empty PDU. */
export function functionCodeOf(pdu: Uint8Array): number {
  return pdu.length > 0 ? pdu[0]! : -1;
}

/**
 * The answer of a meter with register map `map` and present values `values`
 * to one request. Reads of holding (03) and input (04) registers are served
 * from the map; coils and discrete inputs (01/02) the meters do not have
 * (exception 02); writes and everything else are refused as an illegal
 * function (01): the simulated meters are read-only.
 */
export function handlePdu(map: RegisterMap, values: () => MeterValues, pdu: Uint8Array): Buffer {
  const fc = functionCodeOf(pdu);
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (pdu.length !== 5) return exceptionPdu(fc, MODBUS_EXCEPTION.ILLEGAL_DATA_VALUE);
      const address = (pdu[1]! << 8) | pdu[2]!;
      const count = (pdu[3]! << 8) | pdu[4]!;
      if (fc === 1 || fc === 2) {
        // §6.1/6.2: 1..2000 bits, otherwise 03
        if (count < 1 || count > 2000) return exceptionPdu(fc, MODBUS_EXCEPTION.ILLEGAL_DATA_VALUE);
        return exceptionPdu(fc, MODBUS_EXCEPTION.ILLEGAL_DATA_ADDRESS);
      }
      if (address + count > 0x10000) return exceptionPdu(fc, MODBUS_EXCEPTION.ILLEGAL_DATA_ADDRESS);
      let r;
      try {
        r = readRegisters(map, values(), fc, address, count);
      } catch {
        return exceptionPdu(fc, MODBUS_EXCEPTION.SLAVE_DEVICE_FAILURE);
      }
      if (!r.ok) return exceptionPdu(fc, r.exception);
      const out = Buffer.alloc(2 + count * 2);
      out[0] = fc;
      out[1] = count * 2;
      for (let i = 0; i < count; i++) out.writeUInt16BE(r.words[i]! & 0xffff, 2 + i * 2);
      return out;
    }
    default:
      return exceptionPdu(fc < 0 ? 0 : fc, MODBUS_EXCEPTION.ILLEGAL_FUNCTION);
  }
}
