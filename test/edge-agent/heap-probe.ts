/**
 * Run by memory.test.ts in its own process (node --expose-gc --import tsx):
 * many reads over one long-lived Modbus TCP connection, and how much of the
 * V8 heap stays live (after full collections): from the first read to the
 * 500th (what a connection holds on to however long it lives) and per read
 * after that (what grows); and whether modbus-serial (used for Modbus RTU
 * only) was loaded by an agent that reads Modbus TCP. Prints one JSON line.
 *
 *   node --expose-gc --import tsx test/edge-agent/heap-probe.ts [reads]
 */
import { createRequire } from 'node:module';
import pino from 'pino';
import { ModbusTcpConnection } from '../../edge-agent/index.ts';
import { createMeterModel, registerMapOf, startModbusSimulator } from '../../simulators/index.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('heap-probe needs node --expose-gc');
const reads = Number(process.argv[2] ?? 4000);

const sim = await startModbusSimulator({
  port: 0,
  units: [{ unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 1 }), registerMap: registerMapOf('dtsu666') }],
});
const conn = new ModbusTcpConnection({ host: '127.0.0.1', port: sim.port, log: pino({ level: 'silent' }) });
const read = () => conn.read({ unitId: 1, fc: 3, address: 0x2000, count: 0x46, timeoutMs: 5000 });

function live(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

await read();
const afterFirst = live();
for (let i = 0; i < 500; i++) await read();
const before = live();
for (let i = 0; i < reads; i++) await read();
const after = live();
const connects = conn.stats().connects;
await conn.close();
await sim.stop();
const modbusSerialLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\/]modbus-serial[\\/]/.test(k));
process.stdout.write(`${JSON.stringify({ reads, connects, warmupRetainedBytes: before - afterFirst, retainedBytes: after - before, perReadBytes: (after - before) / reads, modbusSerialLoaded })}\n`);
