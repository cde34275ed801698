import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { ExtractionError, detectFormat, extractText } from './extract-text.ts';

async function makePdf(pages: string[][]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = pdf.addPage([600, 800]);
    lines.forEach((line, index) => page.drawText(line, { x: 50, y: 740 - index * 24, size: 14, font }));
  }
  return Buffer.from(await pdf.save());
}

async function makeDocx(): Promise<Buffer> {
  const document = new Document({
    sections: [
      {
        children: [
          new Paragraph({ text: 'Quarterly report', heading: HeadingLevel.HEADING_1 }),
          new Paragraph('Revenue grew by twelve percent.'),
          new Paragraph('The Lisbon office opened in March.'),
        ],
      },
    ],
  });
  return Packer.toBuffer(document);
}

async function expectExtractionError(
  promise: Promise<unknown>,
  code: 'unsupported_file' | 'invalid_file',
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ExtractionError, `expected an ExtractionError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.deepEqual(error.toLastError(), { code, message: error.message });
    return true;
  });
}

describe('extractText', () => {
  it('reads a PDF page by page, pages separated by a blank line', async () => {
    const bytes = await makePdf([['Page one heading', 'The quick brown fox jumps.'], ['Page two says goodbye.']]);
    const extracted = await extractText(bytes, 'report.pdf', 'application/pdf');
    assert.equal(extracted.format, 'pdf');
    assert.equal(extracted.pageCount, 2);
    assert.match(extracted.text, /Page one heading\nThe quick brown fox jumps\.\n\nPage two says goodbye\./);
  });

  it('recognises a PDF by its bytes when the name and type lie', async () => {
    const bytes = await makePdf([['Misnamed but real.']]);
    const extracted = await extractText(bytes, 'notes.txt', 'text/plain');
    assert.equal(extracted.format, 'pdf');
    assert.match(extracted.text, /Misnamed but real\./);
  });

  it('reads a DOCX as its paragraphs, even without a .docx name', async () => {
    const bytes = await makeDocx();
    for (const [name, mime] of [
      ['report.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
      ['upload', null],
    ] as const) {
      const extracted = await extractText(bytes, name, mime);
      assert.equal(extracted.format, 'docx');
      assert.equal(extracted.pageCount, null);
      assert.equal(
        extracted.text,
        'Quarterly report\n\nRevenue grew by twelve percent.\n\nThe Lisbon office opened in March.',
      );
    }
  });

  it('reads the visible text of HTML, without scripts, styles, navigation or hidden parts', async () => {
    const html = `<!doctype html><html><head><title>Team handbook</title>
      <style>body { color: red; } .secret { }</style><script>var tracking = "SCRIPT_TEXT";</script></head>
      <body><nav><a href="/">Home</a> <a href="/about">NAV_LINK</a></nav>
      <h1>Welcome   aboard</h1><p>First <b>day</b> checklist:<br>bring a laptop.</p>
      <ul><li>Badge</li><li>Keys</li></ul>
      <table><tr><th>Room</th><th>Floor</th></tr><tr><td>Atlas</td><td>3</td></tr></table>
      <div hidden>HIDDEN_TEXT</div><p style="display: none">ALSO_HIDDEN</p>
      <noscript>NOSCRIPT_TEXT</noscript><!-- COMMENT_TEXT -->
      <pre>line one
  indented line</pre><script>document.write("LATE_SCRIPT")</script></body></html>`;
    const extracted = await extractText(Buffer.from(html), 'handbook.html', 'text/html');
    assert.equal(extracted.format, 'html');
    assert.equal(
      extracted.text,
      'Team handbook\n\nWelcome aboard\n\nFirst day checklist:\nbring a laptop.\n\n- Badge\n- Keys\n\n' +
        'Room | Floor\nAtlas | 3\n\nline one\n  indented line',
    );
    for (const hidden of [
      'SCRIPT_TEXT',
      'color: red',
      'NAV_LINK',
      'HIDDEN_TEXT',
      'ALSO_HIDDEN',
      'NOSCRIPT_TEXT',
      'COMMENT_TEXT',
      'LATE_SCRIPT',
    ]) {
      assert.ok(!extracted.text.includes(hidden), `${hidden} leaked into the text`);
    }
  });

  it('flattens JSON into path: value lines', async () => {
    const json = JSON.stringify({
      service: { name: 'billing', timeout: 30, tags: ['eu', 'prod'], 'odd key': true, empty: {} },
      owners: [{ name: 'Ada' }],
    });
    const extracted = await extractText(Buffer.from(json), 'config.json', 'application/json');
    assert.equal(extracted.format, 'json');
    assert.equal(
      extracted.text,
      [
        'service.name: billing',
        'service.timeout: 30',
        'service.tags[0]: eu',
        'service.tags[1]: prod',
        'service["odd key"]: true',
        'service.empty: {}',
        'owners[0].name: Ada',
      ].join('\n'),
    );
  });

  it('reads JSON Lines record by record, and keeps text that is not JSON as it is', async () => {
    const lines = '{"id": 1, "text": "alpha"}\n{"id": 2, "text": "beta"}\n';
    assert.equal(
      (await extractText(Buffer.from(lines), 'records.jsonl', null)).text,
      'id: 1\ntext: alpha\n\nid: 2\ntext: beta',
    );
    const broken = '{"almost": json';
    assert.equal((await extractText(Buffer.from(broken), 'broken.json', null)).text, broken);
  });

  it('reads CSV with the header kept and each row labelled by it', async () => {
    const csv = 'name,city,note\r\nAda,London,"likes ""engines"", and maths"\r\nGrace,,"multi\nline"\r\n\r\n';
    const extracted = await extractText(Buffer.from(csv), 'people.csv', 'text/csv');
    assert.equal(extracted.format, 'csv');
    assert.equal(
      extracted.text,
      'name, city, note\nname: Ada; city: London; note: likes "engines", and maths\nname: Grace; note: multi line',
    );
    const tsv = 'a\tb\n1\t2\n';
    assert.equal((await extractText(Buffer.from(tsv), 'table.tsv', null)).text, 'a\tb\na: 1; b: 2');
  });

  it('reads Markdown as it is written', async () => {
    const markdown = '# Title\n\nSome *emphasis* and a [link](https://example.com).\n';
    const extracted = await extractText(Buffer.from(markdown), 'README.md', null);
    assert.equal(extracted.format, 'markdown');
    assert.equal(extracted.text, markdown);
  });

  it('reads UTF-8 text with any script, a BOM dropped and line ends made \\n', async () => {
    const text = 'Grüße aus Köln — 東京は晴れ 🌤️\r\nСпасибо\r\n';
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const extracted = await extractText(withBom, 'greeting.txt', 'text/plain');
    assert.equal(extracted.format, 'text');
    assert.equal(extracted.text, 'Grüße aus Köln — 東京は晴れ 🌤️\nСпасибо\n');
  });

  it('reads UTF-16 text with a BOM, and source code as text', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hello wide world', 'utf16le')]);
    assert.equal((await extractText(utf16, 'wide.txt', null)).text, 'hello wide world');
    const code = 'def main():\n    return 42\n';
    assert.deepEqual(await extractText(Buffer.from(code), 'main.py', null), {
      text: code,
      format: 'text',
      pageCount: null,
    });
  });

  it('keeps a stray invalid byte as a replacement character', async () => {
    const bytes = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait, a fine drink')]);
    assert.equal((await extractText(bytes, 'menu.txt', null)).text, 'caf\uFFFD au lait, a fine drink');
  });

  it('refuses binary content named .txt', async () => {
    const withNul = Buffer.from([0x48, 0x49, 0x00, 0x01, 0x02, 0x03]);
    await expectExtractionError(
      extractText(withNul, 'data.txt', 'text/plain'),
      'invalid_file',
      /data\.txt is not a text file/,
    );
    // Random-looking bytes without a NUL: mostly invalid UTF-8.
    const noise = Buffer.from(Array.from({ length: 400 }, (_, index) => 0x80 + ((index * 37) % 0x7f)));
    await expectExtractionError(extractText(noise, 'noise.txt', null), 'invalid_file', /not a text file/);
  });

  it('refuses a broken PDF and a fake DOCX as invalid_file', async () => {
    const brokenPdf = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref or trailer');
    await expectExtractionError(
      extractText(brokenPdf, 'broken.pdf', 'application/pdf'),
      'invalid_file',
      /broken\.pdf could not be read as a PDF/,
    );
    await expectExtractionError(
      extractText(Buffer.from('just some text'), 'fake.pdf', null),
      'invalid_file',
      /fake\.pdf is not a PDF/,
    );
    await expectExtractionError(
      extractText(Buffer.from('I am plain text pretending'), 'fake.docx', null),
      'invalid_file',
      /fake\.docx is not a Word document: it is not a ZIP archive/,
    );
  });

  it('refuses a DOCX whose ZIP lacks word/document.xml, or whose document is corrupt', async () => {
    const docx = await makeDocx();
    // Rename the entry in both the local header and the central directory: a ZIP, but not Word.
    const renamed = Buffer.from(docx.toString('latin1').replaceAll('word/document.xml', 'word/documenX.xml'), 'latin1');
    await expectExtractionError(
      extractText(renamed, 'renamed.docx', null),
      'invalid_file',
      /the ZIP archive has no word\/document\.xml/,
    );
    // Cut the archive short: the central directory (and so word/document.xml) cannot be found.
    const truncated = docx.subarray(0, Math.floor(docx.length / 2));
    await expectExtractionError(
      extractText(truncated, 'cut.docx', null),
      'invalid_file',
      /cut\.docx is not a Word document/,
    );
    // Scramble the compressed entries but keep the directory: it looks like Word, mammoth cannot read it.
    const scrambled = Buffer.from(docx);
    const directory = scrambled.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    for (let index = 64; index < directory - 64; index += 7) scrambled[index] = scrambled[index]! ^ 0x5a;
    await expectExtractionError(
      extractText(scrambled, 'scrambled.docx', null),
      'invalid_file',
      /scrambled\.docx could not be read as a Word document/,
    );
  });

  it('refuses types it does not read as unsupported_file', async () => {
    await expectExtractionError(
      extractText(Buffer.from('GIF89a...'), 'photo.gif', 'image/gif'),
      'unsupported_file',
      /'\.gif' files \(image\/gif\) are not supported/,
    );
    await expectExtractionError(
      extractText(Buffer.from('x'), 'deck.pptx', null),
      'unsupported_file',
      /PowerPoint files are not supported/,
    );
    await expectExtractionError(
      extractText(Buffer.from('x'), 'blob', 'application/octet-stream'),
      'unsupported_file',
      /a file without an extension/,
    );
  });

  it('falls back to the MIME type for names without a known extension', () => {
    assert.equal(detectFormat(Buffer.from('{}'), 'payload', 'application/json; charset=utf-8'), 'json');
    assert.equal(detectFormat(Buffer.from('x'), 'notes', 'text/x-anything'), 'text');
    assert.equal(detectFormat(Buffer.from('<p>x</p>'), 'page.htm', null), 'html');
  });

  it('stops at the character limit instead of reading without bound', async () => {
    const text = 'word '.repeat(1000);
    await expectExtractionError(
      extractText(Buffer.from(text), 'long.txt', null, { maxCharacters: 100 }),
      'invalid_file',
      /more than 100 characters/,
    );
    const pdf = await makePdf([['a'.repeat(60)], ['b'.repeat(60)]]);
    await expectExtractionError(
      extractText(pdf, 'long.pdf', null, { maxCharacters: 100 }),
      'invalid_file',
      /more than 100 characters/,
    );
    const docx = await makeDocx();
    await expectExtractionError(
      extractText(docx, 'long.docx', null, { maxCharacters: 20 }),
      'invalid_file',
      /more than 20 characters/,
    );
    assert.equal((await extractText(Buffer.from(text), 'long.txt', null, { maxCharacters: 5000 })).text, text);
  });

  it('gives empty text for an empty file', async () => {
    assert.equal((await extractText(Buffer.alloc(0), 'empty.txt', null)).text, '');
  });
});
