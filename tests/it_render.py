"""The HTML report as people see it: rendered by headless Chromium.

The bundled example (examples/) is loaded and imported; the determination
request (Dutch, and in English), the 2011-Q3 progress report (English) and
the public determination (Dutch) are written with `trajectctl report --format
html`, checked to be well-formed XHTML (xmllint --noout) that loads nothing
from elsewhere, and rendered by Chromium to a PNG (--screenshot) and to an A4
PDF (--print-to-pdf). Each PNG is decoded (zlib, no imaging library) and must
hold many colours and enough ink (not a blank page); Chromium's log must have
no console error; the PDF must be a PDF of A4 pages.

Without Chromium the test is skipped (exit 77) with the reason: install it
with tools/install-deps. TJ_RENDER_KEEP=DIR keeps the HTML, PNG and PDF files.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import tjtest

GRANT = 'OV-2011-AMB-01'


def chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = chromium()
if CHROMIUM is None and __name__ == '__main__':
    print('1..0 # SKIP chromium is not installed (tools/install-deps installs the Debian '
          'package chromium)')
    sys.exit(77)


def run_chromium(t, html, out_args, what):
    """One headless Chromium run as the brief asks (root: --no-sandbox)."""
    profile = os.path.join(t.tmp, 'profile-%d' % len(os.listdir(t.tmp)))
    args = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--no-first-run', '--user-data-dir=' + profile, '--enable-logging=stderr', '--v=0',
            '--hide-scrollbars'] + out_args + ['file://' + html]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    t.ok(proc.returncode == 0, what + ': chromium exits 0', proc.stderr[-3000:])
    bad = [line for line in proc.stderr.splitlines()
           if 'Uncaught' in line or 'ERROR:CONSOLE' in line or ':CONSOLE(' in line]
    t.eq(bad, [], what + ': no console errors')
    shutil.rmtree(profile, ignore_errors=True)
    return proc


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG, by hand."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat, ihdr = 8, b'', None
    while pos < len(data):
        (n,) = struct.unpack('>I', data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG kind %r' % (ihdr,)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def check_png(t, path, what):
    w, h, bpp, rows = png_pixels(path)
    colours, ink = set(), 0
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = row[x:x + 3]
            colours.add(px)
            if px[0] < 235 or px[1] < 235 or px[2] < 235:
                ink += 1
    sampled = ((h + 1) // 2) * ((w + 1) // 2)
    t.ok(len(colours) >= 50, '%s: %d distinct colours (a page, not a blank)' % (what, len(colours)))
    t.ok(ink / sampled > 0.03, '%s: %.1f%% of the pixels are ink' % (what, 100.0 * ink / sampled))
    # colour, not only grey: the status colours and the chart lines are there
    coloured = sum(1 for c in colours if max(c) - min(c) > 60)
    t.ok(coloured >= 10, '%s: %d saturated colours (bars, lines, status)' % (what, coloured))


def check_pdf(t, path, what):
    data = open(path, 'rb').read()
    t.ok(data.startswith(b'%PDF-'), what + ': a PDF')
    pages = len(re.findall(rb'/Type\s*/Page[^s]', data))
    t.ok(pages >= 1, '%s: %d page(s)' % (what, pages))
    boxes = set(re.findall(rb'/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]', data))
    t.ok(boxes and all(abs(float(a) - 595.9) < 2 and abs(float(b) - 842) < 2 for a, b in boxes),
         '%s: A4 pages (595 x 842 pt)' % what, boxes)
    return pages


def check_html(t, path, what, public):
    text = open(path, encoding='utf-8').read()
    proc = subprocess.run(['xmllint', '--noout', path], capture_output=True, text=True)
    t.ok(proc.returncode == 0, what + ': well-formed XHTML (xmllint --noout)', proc.stderr)
    t.ok(text.startswith('<!DOCTYPE html'), what + ': an HTML5 doctype')
    # self-contained: no script, no link, no src, no url(), no address but namespaces
    for bad in ('<script', '<link', ' src=', 'url(', '@import'):
        t.ok(bad not in text, '%s: no %s' % (what, bad))
    addrs = set(re.findall(r'https?://[^\s"\'<>]+', text)) - {
        'http://www.w3.org/1999/xhtml', 'http://www.w3.org/2000/svg'}
    t.eq(addrs, set(), what + ': no web address besides the XML namespaces')
    t.ok('@page' in text and 'size: A4' in text, what + ': print rules for A4')
    if public:
        t.ok('T-0' not in text, what + ': no trajectory reference in the public page')
    return text


def render(t, name, args, public=False):
    out = os.path.join(t.tmp, name + '.html')
    t.succeeds(t.ctl('report', '--grant', GRANT, '--format', 'html', '--output', out, *args),
               name + ': trajectctl report --format html')
    text = check_html(t, out, name, public)
    png = os.path.join(t.tmp, name + '.png')
    pdf = os.path.join(t.tmp, name + '.pdf')
    run_chromium(t, out, ['--window-size=1100,1500', '--screenshot=' + png], name + ' PNG')
    check_png(t, png, name)
    run_chromium(t, out, ['--no-pdf-header-footer', '--print-to-pdf=' + pdf], name + ' PDF')
    pages = check_pdf(t, pdf, name)
    keep = os.environ.get('TJ_RENDER_KEEP')
    if keep:
        os.makedirs(keep, exist_ok=True)
        for f in (out, png, pdf):
            shutil.copy(f, keep)
    return text, pages


def load_example(t):
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    for f in ('events-2011.csv', 'events-2012.csv'):
        t.succeeds(t.ctl('import', '--grant', GRANT, t.example(f)), 'import ' + f)


def test_determination_nl(t):
    load_example(t)
    text, pages = render(t, 'determination-nl', ['--report', 'determination'])
    for words in ('Aanvraag tot vaststelling', 'Prestatieafspraken', 'Financieel verslag',
                  'Afrekening per traject', '€\u00a0150.000,00', '31 mei 2012',
                  'Vast te stellen bedrag', 'T-031', 'gehaald'):
        t.ok(words in text, 'determination-nl: shows %r' % words)
    t.ok(pages >= 2, 'determination-nl: the settlement starts its own page in print (%d)' % pages)


def test_progress_en(t):
    load_example(t)
    t.succeeds(t.ctl('explain', '--grant', GRANT, '--obligation', 'P1', '--text',
                     'Registrations started after the decision of 30 May 2011.'), 'explain P1')
    text, _ = render(t, 'q3-en', ['--report', '2011-Q3', '--lang', 'en'])
    for words in ('Progress report', 'Performance obligations', 'at risk', 'on track',
                  '30 September 2011', '€150,000.00', 'Registrations started after the decision',
                  'Days to help', 'Data quality'):
        t.ok(words in text, 'q3-en: shows %r' % words)
    t.ok('Aanvraag' not in text and 'Prestatie' not in text, 'q3-en: no Dutch')


def test_public_nl(t):
    load_example(t)
    text, _ = render(t, 'determination-public-nl', ['--report', 'determination', '--public'],
                     public=True)
    t.ok('openbare versie' in text and '&lt;5' in text, 'public: marked, with <5 cells')
    t.ok('Afrekening per traject' not in text, 'public: no settlement table')


def test_determination_en(t):
    load_example(t)
    text, _ = render(t, 'determination-en', ['--report', 'determination', '--lang', 'en'])
    t.ok('Request for determination' in text and 'Settlement per trajectory' in text,
         'determination-en: English headings')


tjtest.main(globals())
