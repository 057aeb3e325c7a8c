/**
 * Reading a customer CSV as utilities export it: the encoding detected
 * (UTF-8 with or without a byte-order mark, UTF-16 with one, else GBK as
 * Excel writes it on a Chinese Windows), RFC 4180 quoting with fields over
 * several lines, CRLF or LF, comma or tab separated. Each record keeps the
 * line it starts on, for error reports.
 */

export type Encoding = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'gbk';

export function decodeCsv(buf: Uint8Array): { text: string; encoding: Encoding } {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return { text: new TextDecoder('utf-8').decode(buf.subarray(3)), encoding: 'utf-8-bom' };
  if (buf[0] === 0xff && buf[1] === 0xfe) return { text: new TextDecoder('utf-16le').decode(buf.subarray(2)), encoding: 'utf-16le' };
  if (buf[0] === 0xfe && buf[1] === 0xff) return { text: new TextDecoder('utf-16be').decode(buf.subarray(2)), encoding: 'utf-16be' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(buf), encoding: 'utf-8' };
  } catch {
    // not valid UTF-8: the other encoding Chinese spreadsheets write (GBK is a superset of GB2312; the decoder reads GB18030)
    return { text: new TextDecoder('gbk').decode(buf), encoding: 'gbk' };
  }
}

export interface CsvRecord {
  /** 1-based line the record starts on */
  line: number;
  cells: string[];
}

export type CsvParse = { ok: true; records: CsvRecord[] } | { ok: false; line: number; reason: string };

/** RFC 4180 records; the separator is the header line's (tab when it has tabs and no commas). */
export function parseCsv(text: string): CsvParse {
  const firstEnd = text.search(/\r?\n/);
  const head = firstEnd < 0 ? text : text.slice(0, firstEnd);
  const sep = head.includes('\t') && !head.includes(',') ? '\t' : ',';
  const records: CsvRecord[] = [];
  let line = 1;
  let start = 1;
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endRecord = () => {
    cells.push(cell);
    cell = '';
    // blank lines are no records
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells });
    cells = [];
  };
  while (i < n) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      cell += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (cell.trim() !== '') return { ok: false, line, reason: 'a quote inside an unquoted field (quote the whole field and double the quote)' };
      cell = '';
      quoted = true;
      i++;
      continue;
    }
    if (c === sep) {
      cells.push(cell);
      cell = '';
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
      start = line;
      continue;
    }
    cell += c;
    i++;
  }
  if (quoted) return { ok: false, line: start, reason: 'a quoted field is not closed before the end of the file' };
  if (cell !== '' || cells.length) endRecord();
  return { ok: true, records };
}
