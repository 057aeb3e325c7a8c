/**
 * zod issues as `path: message` lines (config and profiles): `devices[2].transport.port:
 * expected number, received string`. Values themselves are never echoed, so a
 * mistyped password does not end up in a log.
 */
import type { z } from 'zod';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += (out ? '.' : '') + String(k);
  }
  return out || '(root)';
}

function joinPath(path: readonly PropertyKey[], key: string): string {
  return formatPath([...path, key]);
}

function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const i of issues) {
    switch (i.code) {
      case 'unrecognized_keys':
        for (const k of i.keys) out.push(`${joinPath(i.path, k)}: unknown key`);
        break;
      case 'invalid_type':
        out.push(
          i.input === undefined
            ? i.path.length === 0
              ? `(root): empty document (expected ${i.expected})`
              : `${formatPath(i.path)}: required (expected ${i.expected})`
            : `${formatPath(i.path)}: expected ${i.expected}, received ${kindOf(i.input)}`,
        );
        break;
      default:
        out.push(`${formatPath(i.path)}: ${i.message}`);
    }
  }
  return out;
}
