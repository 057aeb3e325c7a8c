// Top allocators of a .heapprofile (bench/tools/heap-sampling.ts):
//   node bench/tools/heapprofile-top.mjs file.heapprofile [rows]
// Prints the share of all sampled bytes each function allocated itself
// (self) and with what it called (inclusive).
import fs from 'node:fs';

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/tools/heapprofile-top.mjs file.heapprofile [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const self = new Map();
const inclusive = new Map();
let total = 0;
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const stack = [{ node: profile.head, path: [] }];
while (stack.length) {
  const { node, path } = stack.pop();
  const nm = name(node);
  total += node.selfSize;
  self.set(nm, (self.get(nm) ?? 0) + node.selfSize);
  const p = path.includes(nm) ? path : [...path, nm];
  for (const f of p) inclusive.set(f, (inclusive.get(f) ?? 0) + node.selfSize);
  for (const c of node.children) stack.push({ node: c, path: p });
}
const show = (title, m) => {
  console.log(title);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${((100 * v) / total).toFixed(1).padStart(6)} %  ${k}`);
};
console.log(`${(total / 1e6).toFixed(1)} MB sampled`);
show('--- allocated by the function itself', self);
show('--- allocated by it and what it called', inclusive);
