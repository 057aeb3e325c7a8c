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
  const n = text.length;
  const SEP = sep.charCodeAt(0);
  let line = 1;
  let i = 0;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    // one record: cells until an unquoted line end
    for (;;) {
      if (text.charCodeAt(i) === 34 /* " */) {
        let cell = '';
        let from = i + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) return { ok: false, line: start, reason: 'a quoted field is not closed before the end of the file' };
          const part = text.slice(from, q);
          for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++;
          cell += part;
          if (text.charCodeAt(q + 1) === 34) {
            cell += '"';
            from = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        // text after the closing quote up to the separator belongs to the cell (lenient, as spreadsheets read it)
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === SEP || c === 10 || c === 13) break;
          j++;
        }
        cells.push(cell + text.slice(i, j));
        i = j;
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === SEP || c === 10 || c === 13) break;
          if (c === 34 && text.slice(i, j).trim() !== '') return { ok: false, line, reason: 'a quote inside an unquoted field (quote the whole field and double the quote)' };
          j++;
        }
        cells.push(text.slice(i, j));
        i = j;
      }
      const c = text.charCodeAt(i);
      if (c === SEP) {
        i++;
        continue;
      }
      // end of line or of text
      if (c === 13 && text.charCodeAt(i + 1) === 10) i += 2;
      else if (i < n) i++;
      line++;
      break;
    }
    // blank lines are no records
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells });
  }
  return { ok: true, records };
}
