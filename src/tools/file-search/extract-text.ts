import { loadBuffer } from 'cheerio';
import mammoth from 'mammoth';
import { getDocumentProxy } from 'unpdf';

/*
 * Turns an uploaded file into the plain text that file_search chunks, embeds and searches.
 *
 * The bytes decide before the name does: a PDF or a DOCX is recognised by its signature whatever
 * it is called, because uploads are often misnamed (`report` with no extension, `scan.txt`).
 * Everything else is recognised by extension, then by MIME type, as OpenAI does.
 */

/** The kinds of file Riposte reads; `text` also covers source code and other plain-text files. */
export type ExtractedFormat = 'text' | 'markdown' | 'html' | 'json' | 'csv' | 'pdf' | 'docx';

/** The text of one file, ready for chunkText. */
export interface ExtractedText {
  text: string;
  format: ExtractedFormat;
  /** Pages of a PDF; null for formats without pages. */
  pageCount: number | null;
}

/** OpenAI's `last_error.code` values that an ingestion failure of the file itself can have. */
export type ExtractionErrorCode = 'unsupported_file' | 'invalid_file';

/**
 * A file that cannot be turned into text: a type Riposte does not read (`unsupported_file`), or one
 * whose content is not what it claims or is damaged (`invalid_file`). Its code and message are
 * what the vector-store file shows as `last_error`.
 */
export class ExtractionError extends Error {
  readonly code: ExtractionErrorCode;

  constructor(code: ExtractionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExtractionError';
    this.code = code;
  }

  /** The `last_error` object of a vector-store file that failed on this. */
  toLastError(): { code: ExtractionErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export interface ExtractTextOptions {
  /**
   * Extraction stops and fails once the text passes this many characters, so a huge or
   * decompression-bomb file cannot exhaust memory. Default MAX_EXTRACTED_CHARACTERS.
   */
  maxCharacters?: number;
}

/**
 * Five million characters is roughly 1.2 million tokens: far more than any document a person
 * searches, and OpenAI's own per-file limit is 5 million tokens, so real files stay well inside.
 */
export const MAX_EXTRACTED_CHARACTERS = 5_000_000;

/**
 * UTF-8 needs at least one byte per UTF-16 code unit, and a BOM-marked UTF-16 file two, so a text
 * file larger than this many bytes per allowed character cannot fit and is refused undecoded. The
 * same bound keeps HTML and JSON, whose markup is parsed whole, to a few times the text limit.
 */
const MAX_TEXT_BYTES_PER_CHARACTER = 4;

/**
 * word/document.xml is markup-heavy (often 10–20 bytes of XML per character of text) and mammoth
 * parses it whole, so its uncompressed size is checked against this before unzipping: a small
 * DOCX can inflate to gigabytes.
 */
const MAX_DOCX_XML_BYTES_PER_CHARACTER = 40;

/** A binary file named .txt shows itself in its first bytes; looking further only costs time. */
const SNIFF_BYTES = 64 * 1024;
/** Real text has no NUL and almost no other control characters or undecodable bytes. */
const MAX_SUSPICIOUS_RATIO = 0.1;

const EXTENSION_FORMATS: Record<string, ExtractedFormat> = {
  txt: 'text',
  text: 'text',
  log: 'text',
  md: 'markdown',
  markdown: 'markdown',
  mdx: 'markdown',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  json: 'json',
  jsonl: 'json',
  ndjson: 'json',
  csv: 'csv',
  tsv: 'csv',
  pdf: 'pdf',
  docx: 'docx',
};

/** Source files OpenAI's file_search accepts, read as plain text. */
const SOURCE_EXTENSIONS = new Set([
  'c',
  'h',
  'cpp',
  'cc',
  'hpp',
  'cs',
  'css',
  'go',
  'java',
  'js',
  'mjs',
  'cjs',
  'jsx',
  'ts',
  'tsx',
  'php',
  'py',
  'rb',
  'rs',
  'sh',
  'tex',
  'kt',
  'swift',
  'scala',
  'sql',
  'xml',
  'yaml',
  'yml',
  'toml',
  'ini',
  'rst',
]);

const MIME_FORMATS: Record<string, ExtractedFormat> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/json': 'json',
  'application/x-ndjson': 'json',
  'application/jsonl': 'json',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'text/tab-separated-values': 'csv',
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
};

/** Formats OpenAI accepts that Riposte has no reader for, named so the error says why. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  doc: 'legacy Word (.doc) files',
  pptx: 'PowerPoint files',
  ppt: 'PowerPoint files',
  xlsx: 'Excel files',
  xls: 'Excel files',
};

/**
 * Extracts the searchable text of a file. Throws ExtractionError for a type Riposte does not read
 * or content it cannot; any other error is a bug or an exhausted machine (`server_error`).
 */
export async function extractText(
  bytes: Buffer,
  filename: string,
  mimeType: string | null,
  options: ExtractTextOptions = {},
): Promise<ExtractedText> {
  const maxCharacters = options.maxCharacters ?? MAX_EXTRACTED_CHARACTERS;
  const format = detectFormat(bytes, filename, mimeType);
  switch (format) {
    case 'pdf':
      return extractPdf(bytes, filename, maxCharacters);
    case 'docx':
      return { text: await extractDocx(bytes, filename, maxCharacters), format, pageCount: null };
    case 'html':
      checkTextSize(bytes, filename, maxCharacters);
      checkNotBinary(bytes, filename);
      return { text: limit(htmlToText(bytes), filename, maxCharacters), format, pageCount: null };
    case 'json': {
      const text = decodeText(bytes, filename, maxCharacters);
      return { text: limit(jsonToText(text), filename, maxCharacters), format, pageCount: null };
    }
    case 'csv': {
      const text = decodeText(bytes, filename, maxCharacters);
      const delimiter = extensionOf(filename) === 'tsv' || mimeType?.includes('tab-separated') ? '\t' : ',';
      return { text: limit(csvToText(text, delimiter), filename, maxCharacters), format, pageCount: null };
    }
    case 'markdown':
    case 'text':
      return { text: decodeText(bytes, filename, maxCharacters), format, pageCount: null };
  }
}

/** The format to read the file as, or an ExtractionError saying why there is none. */
export function detectFormat(bytes: Buffer, filename: string, mimeType: string | null): ExtractedFormat {
  if (looksLikePdf(bytes)) return 'pdf';
  const zipEntries = readZipDirectory(bytes);
  if (zipEntries?.has('word/document.xml')) return 'docx';

  const extension = extensionOf(filename);
  const mime = mimeType?.split(';')[0]?.trim().toLowerCase() ?? '';
  let format: ExtractedFormat | undefined = EXTENSION_FORMATS[extension];
  if (format === undefined && SOURCE_EXTENSIONS.has(extension)) format = 'text';
  // The extension is what the uploader chose and the SDKs derive the MIME type from it anyway;
  // the MIME type is the fallback for names without one.
  if (format === undefined && extension in KNOWN_UNSUPPORTED) {
    throw new ExtractionError(
      'unsupported_file',
      `${filename}: ${KNOWN_UNSUPPORTED[extension]} are not supported for file search.`,
    );
  }
  format ??= MIME_FORMATS[mime] ?? (mime.startsWith('text/') ? 'text' : undefined);
  if (format === undefined) {
    const described = extension === '' ? 'a file without an extension' : `'.${extension}' files`;
    throw new ExtractionError(
      'unsupported_file',
      `${filename}: ${described}${mime === '' ? '' : ` (${mime})`} are not supported for file search. ` +
        'Supported: text, Markdown, HTML, JSON, CSV, PDF, DOCX and source code.',
    );
  }
  // The signatures were checked above, so a file that claims to be a PDF or DOCX is not one.
  if (format === 'pdf')
    throw new ExtractionError('invalid_file', `${filename} is not a PDF: it does not start with %PDF.`);
  if (format === 'docx') {
    throw new ExtractionError(
      'invalid_file',
      zipEntries
        ? `${filename} is not a Word document: the ZIP archive has no word/document.xml.`
        : `${filename} is not a Word document: it is not a ZIP archive.`,
    );
  }
  return format;
}

function extensionOf(filename: string): string {
  const base = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** PDF readers accept the header anywhere in the first kilobyte (after junk some tools prepend). */
function looksLikePdf(bytes: Buffer): boolean {
  const header = bytes.subarray(0, 1024).indexOf('%PDF-');
  return header !== -1;
}

/* ---------- plain text ---------- */

function checkTextSize(bytes: Buffer, filename: string, maxCharacters: number): void {
  if (bytes.length > maxCharacters * MAX_TEXT_BYTES_PER_CHARACTER) throw tooMuchText(filename, maxCharacters);
}

function tooMuchText(filename: string, maxCharacters: number): ExtractionError {
  return new ExtractionError(
    'invalid_file',
    `${filename} has more than ${maxCharacters} characters of text, the most a file may have for file search.`,
  );
}

function limit(text: string, filename: string, maxCharacters: number): string {
  if (text.length > maxCharacters) throw tooMuchText(filename, maxCharacters);
  return text;
}

/** The encoding a byte-order mark names; UTF-16 files are rare but legitimate (Windows Notepad). */
function byteOrderMark(bytes: Buffer): 'utf-8' | 'utf-16le' | 'utf-16be' | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return null;
}

/**
 * Refuses binary content dressed as text: a NUL byte, or more than a tenth of control characters
 * and undecodable bytes in the first 64 KiB. Occasional bad bytes (a Latin-1 "café" in a UTF-8
 * file) pass and become U+FFFD, which costs one word, not the file.
 */
function checkNotBinary(bytes: Buffer, filename: string): void {
  const encoding = byteOrderMark(bytes) ?? 'utf-8';
  if (encoding === 'utf-8' && bytes.subarray(0, SNIFF_BYTES).includes(0)) throw notText(filename);
  // stream: true leaves a character cut at the sample's end undecoded instead of counting it bad.
  const sample = new TextDecoder(encoding).decode(bytes.subarray(0, SNIFF_BYTES), { stream: true });
  let suspicious = 0;
  for (let index = 0; index < sample.length; index += 1) {
    const code = sample.charCodeAt(index);
    const isControl =
      (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d && code !== 0x1b) ||
      code === 0x7f;
    if (isControl || code === 0xfffd) suspicious += 1;
  }
  if (suspicious > sample.length * MAX_SUSPICIOUS_RATIO) throw notText(filename);
}

function notText(filename: string): ExtractionError {
  return new ExtractionError('invalid_file', `${filename} is not a text file: its content is binary.`);
}

/** Decodes a text file (UTF-8, or UTF-16 with a BOM), with Windows and old-Mac line ends made \n. */
function decodeText(bytes: Buffer, filename: string, maxCharacters: number): string {
  checkTextSize(bytes, filename, maxCharacters);
  checkNotBinary(bytes, filename);
  const text = new TextDecoder(byteOrderMark(bytes) ?? 'utf-8').decode(bytes);
  return limit(text.replace(/\r\n?/g, '\n'), filename, maxCharacters);
}

/* ---------- HTML ---------- */

/*
 * cheerio's node types come from domhandler, a dependency of cheerio rather than of Riposte, so
 * the walk below reads nodes through this narrow shape of the fields it needs.
 */
interface HtmlNode {
  type: string;
  name?: string;
  data?: string;
  attribs?: Record<string, string>;
  children?: HtmlNode[];
  parent?: HtmlNode | null;
}

/** Content that is never read as text on the page, plus navigation menus repeated on every page. */
const SKIPPED_ELEMENTS = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'canvas',
  'iframe',
  'object',
  'embed',
  'video',
  'audio',
  'select',
  'button',
  'nav',
]);
/** Blocks separated by a blank line, so chunking can prefer to cut between them. */
const PARAGRAPH_ELEMENTS = new Set([
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'ul',
  'ol',
  'dl',
  'table',
  'blockquote',
  'pre',
  'figure',
  'section',
  'article',
  'header',
  'footer',
  'main',
  'aside',
  'form',
  'hr',
  'address',
  'details',
  'fieldset',
]);
/** Blocks on a line of their own. */
const LINE_ELEMENTS = new Set(['div', 'li', 'tr', 'dt', 'dd', 'caption', 'figcaption', 'summary', 'legend', 'body']);

type HtmlPiece = string | { break: 1 | 2 };

/**
 * The visible text of a page: the title, then headings, paragraphs, list items (as "- item") and
 * table rows (cells joined by " | ") on lines of their own, whitespace collapsed except in <pre>.
 * The walk is iterative, so a page nested thousands of levels deep cannot overflow the stack.
 */
function htmlToText(bytes: Buffer): string {
  // loadBuffer honours a BOM and <meta charset>, so Latin-1 and Shift-JIS pages decode correctly.
  const $ = loadBuffer(bytes);
  const title = $('title').first().text().replace(/\s+/g, ' ').trim();
  const pieces: HtmlPiece[] = title === '' ? [] : [title, { break: 2 }];
  const root = $.root()[0] as unknown as HtmlNode;
  const stack: Array<{ node: HtmlNode; leaving: boolean; preformatted: boolean }> = [
    { node: root, leaving: false, preformatted: false },
  ];
  while (stack.length > 0) {
    const { node, leaving, preformatted } = stack.pop()!;
    if (node.type === 'text') {
      const data = node.data ?? '';
      pieces.push(preformatted ? data : data.replace(/\s+/g, ' '));
      continue;
    }
    if (node.type === 'root') {
      pushChildren(stack, node, preformatted);
      continue;
    }
    if (node.type !== 'tag' || node.name === undefined) continue; // comments, CDATA, doctype
    const name = node.name.toLowerCase();
    const separator = PARAGRAPH_ELEMENTS.has(name) ? 2 : LINE_ELEMENTS.has(name) ? 1 : 0;
    if (leaving) {
      if (separator > 0) pieces.push({ break: separator as 1 | 2 });
      continue;
    }
    if (SKIPPED_ELEMENTS.has(name) || isHidden(node)) continue;
    if (name === 'br') {
      pieces.push({ break: 1 });
      continue;
    }
    if (separator > 0) pieces.push({ break: separator as 1 | 2 });
    if (name === 'li') pieces.push('- ');
    if ((name === 'td' || name === 'th') && hasPreviousCell(node)) pieces.push(' | ');
    if (name === 'img' && node.attribs?.alt) pieces.push(` ${node.attribs.alt} `);
    stack.push({ node, leaving: true, preformatted });
    pushChildren(stack, node, preformatted || name === 'pre' || name === 'textarea');
  }
  return joinHtmlPieces(pieces);
}

function pushChildren(
  stack: Array<{ node: HtmlNode; leaving: boolean; preformatted: boolean }>,
  node: HtmlNode,
  preformatted: boolean,
): void {
  const children = node.children ?? [];
  for (let index = children.length - 1; index >= 0; index -= 1) {
    stack.push({ node: children[index]!, leaving: false, preformatted });
  }
}

/** Whether a cell follows another in its row, so it needs a separator before it. */
function hasPreviousCell(cell: HtmlNode): boolean {
  const parentCells = cell.parent?.children ?? [];
  for (const sibling of parentCells) {
    if (sibling === cell) return false;
    if (sibling.type === 'tag' && (sibling.name === 'td' || sibling.name === 'th')) return true;
  }
  return false;
}

function isHidden(node: HtmlNode): boolean {
  const attributes = node.attribs ?? {};
  return (
    'hidden' in attributes ||
    attributes['aria-hidden'] === 'true' ||
    /display\s*:\s*none|visibility\s*:\s*hidden/i.test(attributes.style ?? '')
  );
}

/** Joins text and breaks: runs of breaks become the strongest one, and no line keeps edge spaces. */
function joinHtmlPieces(pieces: HtmlPiece[]): string {
  // Parts, not one growing string, so trimming a line's end stays cheap on a large page.
  const parts: string[] = [];
  let pendingBreak = 0;
  for (const piece of pieces) {
    if (typeof piece !== 'string') {
      pendingBreak = Math.max(pendingBreak, piece.break);
      continue;
    }
    const last = parts.at(-1);
    const atLineStart = last === undefined || pendingBreak > 0 || last.endsWith('\n');
    let value = atLineStart ? piece.replace(/^[ \t]+/, '') : piece;
    if (value === '') continue;
    if (pendingBreak > 0 && last !== undefined) {
      parts[parts.length - 1] = last.replace(/[ \t]+$/, '');
      parts.push('\n'.repeat(pendingBreak));
    } else if (last?.endsWith(' ') && value.startsWith(' ')) {
      value = value.slice(1);
    }
    pendingBreak = 0;
    parts.push(value);
  }
  return parts
    .join('')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/* ---------- JSON ---------- */

/**
 * JSON becomes one `path: value` line per scalar (`servers[0].timeout: 30`), rather than
 * pretty-printed JSON. Each line then carries the keys that give its value meaning, so a chunk cut
 * from the middle of a large document still says what its numbers are, keyword search matches
 * key and value on one line, and no tokens go to braces and quotes. A .jsonl file (or a .json
 * holding JSON Lines) gets one block per record; text that is not JSON at all is indexed as is.
 */
function jsonToText(text: string): string {
  const parsed = parseJson(text);
  if (parsed.ok) return flattenJson(parsed.value);
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const records: string[] = [];
  for (const line of lines) {
    const record = parseJson(line);
    if (!record.ok) return text;
    records.push(flattenJson(record.value));
  }
  return records.join('\n\n');
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Flattens iteratively, so deeply nested JSON cannot overflow the stack. */
function flattenJson(value: unknown): string {
  const lines: string[] = [];
  const stack: Array<{ path: string; value: unknown }> = [{ path: '', value }];
  while (stack.length > 0) {
    const { path, value: current } = stack.pop()!;
    if (Array.isArray(current)) {
      if (current.length === 0) lines.push(line(path, '[]'));
      for (let index = current.length - 1; index >= 0; index -= 1) {
        stack.push({ path: `${path}[${index}]`, value: current[index] });
      }
    } else if (current !== null && typeof current === 'object') {
      const entries: Array<[string, unknown]> = Object.entries(current as Record<string, unknown>);
      if (entries.length === 0) lines.push(line(path, '{}'));
      for (let index = entries.length - 1; index >= 0; index -= 1) {
        const [key, child] = entries[index]!;
        const segment = /^[\p{L}_$][\p{L}\p{N}_$-]*$/u.test(key) ? key : JSON.stringify(key);
        stack.push({
          path: path === '' ? segment : /^[\p{L}_$]/u.test(segment) ? `${path}.${segment}` : `${path}[${segment}]`,
          value: child,
        });
      }
    } else {
      lines.push(line(path, typeof current === 'string' ? current : String(current)));
    }
  }
  return lines.join('\n');
}

function line(path: string, value: string): string {
  return path === '' ? value : `${path}: ${value}`;
}

/* ---------- CSV ---------- */

/**
 * The header row as its own line, then each row as `column: value; column: value` — labelled
 * rather than raw, because every chunk after the first would otherwise be bare values whose
 * columns the embedding and the model can only guess. Empty cells are left out; quoted fields
 * (with delimiters, quotes and line breaks inside) are read as RFC 4180 says.
 */
function csvToText(text: string, delimiter: string): string {
  const rows = parseCsv(text, delimiter).filter((row) => row.some((cell) => cell.trim() !== ''));
  const header = rows[0];
  if (header === undefined) return '';
  const names = header.map((name, index) => collapse(name) || `column ${index + 1}`);
  const lines = [names.join(delimiter === '\t' ? '\t' : ', ')];
  for (const row of rows.slice(1)) {
    const cells: string[] = [];
    row.forEach((cell, index) => {
      const value = collapse(cell);
      if (value !== '') cells.push(`${names[index] ?? `column ${index + 1}`}: ${value}`);
    });
    lines.push(cells.join('; '));
  }
  return lines.join('\n');
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function parseCsv(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index]!;
    if (quoted) {
      if (character !== '"') cell += character;
      else if (text[index + 1] === '"') {
        cell += '"';
        index += 1;
      } else quoted = false;
    } else if (character === '"' && cell === '') quoted = true;
    else if (character === delimiter) {
      row.push(cell);
      cell = '';
    } else if (character === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += character;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/* ---------- PDF ---------- */

/** The text of each page (lines as pdf.js finds them), pages separated by a blank line. */
async function extractPdf(bytes: Buffer, filename: string, maxCharacters: number): Promise<ExtractedText> {
  let document: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // A copy, because pdf.js transfers (detaches) the buffer it is given. Verbosity 0: damaged
    // files would otherwise print pdf.js warnings to the server's stdout.
    document = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  } catch (error) {
    throw pdfError(filename, error);
  }
  try {
    const pages: string[] = [];
    let characters = 0;
    for (let pageNumber = 1; pageNumber <= document.numPages; pageNumber += 1) {
      const page = await document.getPage(pageNumber);
      const content = await page.getTextContent();
      let pageText = '';
      for (const item of content.items) {
        if ('str' in item) pageText += item.str + (item.hasEOL ? '\n' : '');
      }
      page.cleanup();
      pageText = pageText
        .replace(/[^\S\n]+/g, ' ')
        .replace(/ ?\n ?/g, '\n')
        .replace(/\n{3,}/g, '\n\n')
        .trim();
      characters += pageText.length + 2;
      if (characters > maxCharacters + 2) throw tooMuchText(filename, maxCharacters);
      pages.push(pageText);
    }
    return { text: pages.filter((page) => page !== '').join('\n\n'), format: 'pdf', pageCount: document.numPages };
  } catch (error) {
    if (error instanceof ExtractionError) throw error;
    throw pdfError(filename, error);
  } finally {
    await document.destroy();
  }
}

function pdfError(filename: string, error: unknown): ExtractionError {
  const name = error instanceof Error ? error.name : '';
  const detail = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') {
    return new ExtractionError('invalid_file', `${filename} is a password-protected PDF, which cannot be read.`, {
      cause: error,
    });
  }
  return new ExtractionError('invalid_file', `${filename} could not be read as a PDF: ${detail}`, { cause: error });
}

/* ---------- DOCX ---------- */

async function extractDocx(bytes: Buffer, filename: string, maxCharacters: number): Promise<string> {
  const documentSize = readZipDirectory(bytes)?.get('word/document.xml');
  if (documentSize === undefined || documentSize > maxCharacters * MAX_DOCX_XML_BYTES_PER_CHARACTER) {
    throw tooMuchText(filename, maxCharacters);
  }
  let text: string;
  try {
    text = (await mammoth.extractRawText({ buffer: bytes })).value;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ExtractionError('invalid_file', `${filename} could not be read as a Word document: ${detail}`, {
      cause: error,
    });
  }
  // mammoth ends every paragraph with a blank line; runs of empty paragraphs are noise.
  return limit(text.replace(/\n{3,}/g, '\n\n').trim(), filename, maxCharacters);
}

/**
 * The entries of a ZIP archive and their uncompressed sizes, read from its central directory
 * without inflating anything; null when the bytes are not a ZIP archive. A ZIP64 size (0xFFFFFFFF
 * in the 32-bit field) is kept as is, which is over any limit worth allowing anyway.
 */
function readZipDirectory(bytes: Buffer): Map<string, number> | null {
  if (bytes.length < 22 || bytes.readUInt32LE(0) !== 0x04034b50) return null;
  // The end-of-central-directory record is in the last 22 bytes plus a comment of up to 64 KiB.
  const searchFrom = Math.max(0, bytes.length - 22 - 0xffff);
  let end = -1;
  for (let offset = bytes.length - 22; offset >= searchFrom; offset -= 1) {
    if (bytes.readUInt32LE(offset) === 0x06054b50) {
      end = offset;
      break;
    }
  }
  if (end === -1) return null;
  const entryCount = bytes.readUInt16LE(end + 10);
  let offset = bytes.readUInt32LE(end + 16);
  const entries = new Map<string, number>();
  for (let entry = 0; entry < entryCount; entry += 1) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== 0x02014b50) return entries;
    const uncompressedSize = bytes.readUInt32LE(offset + 24);
    const nameLength = bytes.readUInt16LE(offset + 28);
    const extraLength = bytes.readUInt16LE(offset + 30);
    const commentLength = bytes.readUInt16LE(offset + 32);
    const name = bytes.toString('utf8', offset + 46, Math.min(bytes.length, offset + 46 + nameLength));
    entries.set(name, uncompressedSize);
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
