/**
 * What the simulators share (simulators/sim-io.ts): a port already taken or a
 * serial device that is not there is GW_ERR_SIM_LISTEN with the place named;
 * reply timers cleared on stop never fire.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMeterModel, startDlt645Simulator, startModbusSimulator } from '../../simulators/index.ts';
import { ReplyTimers } from '../../simulators/sim-io.ts';

describe('simulator I/O shared by the gateways', () => {
  it('a TCP port in use: GW_ERR_SIM_LISTEN naming host and port, for Modbus and DL/T 645 alike', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const model = createMeterModel({ profile: 'residential', seed: 1 });
      await expect(startModbusSimulator({ port, units: [{ unitId: 1, model }] })).rejects.toMatchObject({
        code: 'GW_ERR_SIM_LISTEN',
        message: expect.stringContaining(`127.0.0.1:${port}`),
      });
      await expect(startDlt645Simulator({ transport: { kind: 'tcp', port }, meters: [{ address: '000000000001', model }] })).rejects.toMatchObject({
        code: 'GW_ERR_SIM_LISTEN',
        message: expect.stringContaining(`127.0.0.1:${port}`),
      });
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('a serial device that does not exist: GW_ERR_SIM_LISTEN naming the path', async () => {
    const path = `/dev/gw-no-such-tty-${process.pid}`;
    const model = createMeterModel({ profile: 'residential', seed: 1 });
    await expect(startDlt645Simulator({ transport: { kind: 'serial', path }, meters: [{ address: '000000000001', model }] })).rejects.toMatchObject({
      code: 'GW_ERR_SIM_LISTEN',
      message: expect.stringContaining(path),
    });
  });

  it('reply timers: a delay resolves after its time; clear() cancels the pending ones', async () => {
    const timers = new ReplyTimers();
    let late = false;
    await timers.delay(20);
    void timers.delay(50).then(() => (late = true));
    timers.clear();
    await new Promise((r) => setTimeout(r, 300));
    expect(late).toBe(false);
  });
});
