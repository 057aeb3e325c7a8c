/** The one-key call payload (contract/call.ts): optional room, caller and message, bounded, hostile input left out — the press itself never lost. */
import { describe, expect, it } from 'vitest';
import { CALL_LIMITS, parseCallPayload } from '../../contract/index.ts';

const p = (x: unknown) => parseCallPayload(typeof x === 'string' ? x : JSON.stringify(x));

describe('call payload', () => {
  it('carries ts, room, caller and message, trimmed', () => {
    expect(p({ ts: 1767225600000, room: 'r-12', caller: { name: ' 王工 ', phone: '+86 (138) 0000-0000' }, message: '2# 变压器冒烟\nplease come' })).toEqual({
      call: { ts: 1767225600000, room: 'r-12', caller: { name: '王工', phone: '+86 (138) 0000-0000' }, message: '2# 变压器冒烟\nplease come' },
      errors: [],
    });
  });

  it('any payload is a press: empty, not JSON, not an object → a call without details', () => {
    for (const x of ['', 'PRESSED', '[1,2]', 'null', '42', '{"room":']) expect(p(x).call).toEqual({});
    expect(p('PRESSED').errors).toEqual(['payload: not JSON']);
    expect(p('[]').errors).toEqual(['payload: expected an object']);
    expect(parseCallPayload(new Uint8Array(0))).toEqual({ call: {}, errors: [] });
  });

  it('hostile fields are left out with a reason; the valid ones stay', () => {
    const r = p({
      room: '../../etc/passwd',
      caller: { name: 'x'.repeat(CALL_LIMITS.name + 1), phone: "1'; DROP TABLE alarm_event; --", role: 'admin' },
      message: 'evil \u202Eright-to-left',
      ts: '1767225600000',
      extra: 1,
    });
    expect(r.call).toEqual({});
    expect(r.errors.sort()).toEqual(
      [
        'caller.name: longer than 64 characters',
        'caller.phone: expected digits, spaces, + ( ) -',
        'caller.role: unknown key',
        'extra: unknown key',
        'message: control or invisible characters',
        'room: expected a room id',
        'ts: expected epoch milliseconds',
      ].sort(),
    );
    const proto = parseCallPayload('{"__proto__":{"polluted":true},"caller":{"__proto__":{"name":"x"}}}');
    expect(proto.errors).toEqual(['__proto__: unknown key', 'caller.__proto__: unknown key']);
    expect(proto.call).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // one bad field does not take the others with it
    expect(p({ room: 'r1', caller: { name: 'a\u0000b', phone: '110' }, message: 'm'.repeat(CALL_LIMITS.message + 1) }).call).toEqual({ room: 'r1', caller: { phone: '110' } });
    expect(p({ caller: 'someone', message: 42 }).errors).toEqual(['caller: expected an object of name, phone', 'message: expected a string']);
    expect(p({ ts: -1 }).errors).toEqual(['ts: expected epoch milliseconds']);
    expect(p({ ts: 1.5 }).call).toEqual({});
  });

  it('lengths count characters, not UTF-16 units; HTML is text (the dashboard escapes it)', () => {
    expect(p({ message: '😀'.repeat(CALL_LIMITS.message) }).call.message).toHaveLength(CALL_LIMITS.message * 2);
    expect(p({ message: '<img src=x onerror=alert(1)>' }).call.message).toBe('<img src=x onerror=alert(1)>');
    expect(p({ caller: { name: '   ' } }).call).toEqual({});
  });

  it('a payload over the byte limit is a press without details', () => {
    expect(p({ message: 'x'.repeat(CALL_LIMITS.bytes) })).toEqual({ call: {}, errors: [`payload: larger than ${CALL_LIMITS.bytes} bytes`] });
  });
});
