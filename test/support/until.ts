/** Polls `fn` every 250 ms until it returns an empty list; throws with the last list (at most 20 lines) after `timeoutMs`. */
export async function until(fn: () => Promise<string[]> | string[], timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: string[] = [];
  for (;;) {
    try {
      last = await fn();
      if (last.length === 0) return;
    } catch (e) {
      last = [String(e)];
    }
    if (Date.now() > end) throw new Error(`${what} not reached in ${timeoutMs} ms:\n  ${last.slice(0, 20).join('\n  ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
