// Owns netctl's table layout: Go's text/tabwriter (minwidth 0, padding 2, spaces) so columns match Contiv's byte for byte.
// It must never decide what goes in a table; commands hand it tab-separated lines exactly as netctl wrote them.

/**
 * Lays out `text` the way Go's tabwriter does. A cell is text ended by a tab; the text after a line's last tab
 * is not part of any column and is never padded. A column's width is fixed per block of consecutive lines that
 * have a cell in that column, so a line with fewer cells (e.g. "Incoming Rules:") starts fresh widths below it.
 */
export function tabwrite(text: string, padding = 2): string {
  const rawLines = text.split('\n');
  // Go only emits lines ended by a newline on Flush when text ends with one; the trailing piece is empty.
  if (rawLines.length > 0 && rawLines[rawLines.length - 1] === '') rawLines.pop();
  const lines = rawLines.map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];
  const width = (s: string): number => [...s].length;

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((c, j) => {
        s += j < widths.length ? c + ' '.repeat(Math.max(0, widths[j]! - width(c))) : c;
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let row = line0; row < line1; row++) {
      if (column >= lines[row]!.length - 1) continue;
      // This line has a cell in `column`: everything before it is laid out with the widths known so far.
      writeLines(line0, row);
      line0 = row;
      let w = 0;
      for (; row < line1; row++) {
        const cells = lines[row]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + padding);
      }
      widths.push(w);
      format(line0, row);
      widths.pop();
      line0 = row;
      row--; // the for-loop's increment must not skip the line that ended the block
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.map((l) => `${l}\n`).join('');
}
