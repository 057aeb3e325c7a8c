/**
 * The command line the server and the edge agent both take: one optional
 * config file path, or --help/-h. Depends on nothing, so the agent can import
 * it without pulling in server code.
 */
export type ConfigArg = { kind: 'help' } | { kind: 'invalid'; reason: string } | { kind: 'path'; path: string | undefined };

export function parseConfigArg(argv: readonly string[]): ConfigArg {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help' };
  const flag = argv.find((a) => a.startsWith('-'));
  if (flag !== undefined) return { kind: 'invalid', reason: `unknown option ${flag}` };
  if (argv.length > 1) return { kind: 'invalid', reason: 'one config file only' };
  return { kind: 'path', path: argv[0] };
}

/**
 * The config path given on the command line, if any. --help prints `usage`
 * and exits 0; an option or a second path prints why and `usage` to stderr
 * and exits 2.
 */
export function configFileArg(argv: readonly string[], usage: string): string | undefined {
  const a = parseConfigArg(argv);
  if (a.kind === 'help') {
    process.stdout.write(usage);
    process.exit(0);
  }
  if (a.kind === 'invalid') {
    process.stderr.write(`${a.reason}\n\n${usage}`);
    process.exit(2);
  }
  return a.path;
}
