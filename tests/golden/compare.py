"""Compares two golden folders written by make.sh: JSON without its timing fields,
git commit and checksum; text with timings blanked; everything else byte for byte.
With --allow-new, a change that adds keys and columns passes when everything that was
there before is unchanged: JSON keys and CSV columns only AFTER has are dropped (and
CSV rows of benchmarks only AFTER has, such as `index`), shards' paths.bin is compared
value by value across its format change, and Parquet files (not decodable here) are
listed as unchecked: make both folders with SPTLAB_GOLDEN_FORMAT=csv to check them.
usage: compare.py [--allow-new] BEFORE AFTER (exit 1 when anything differs)"""
import sys, os, json, re, filecmp, struct
args = [x for x in sys.argv[1:] if x != '--allow-new']
allow_new = '--allow-new' in sys.argv[1:]
a, b = args[0], args[1]
def common(before, after):
    """`after` without the keys `before` lacks (recursively)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {k: common(before[k], v) for k, v in after.items() if k in before}
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [common(x, y) for x, y in zip(before, after)]
    return after
def csv_common(pa, pb):
    rows_a = open(pa).read().splitlines(); rows_b = open(pb).read().splitlines()
    head_a, head_b = rows_a[0].split(','), rows_b[0].split(',')
    keep = [head_b.index(c) for c in head_a if c in head_b]
    if len(keep) != len(head_a): return False
    names = {r.split(',')[1] for r in rows_a[1:]}
    rows_b = [r for r in rows_b[1:] if r.split(',')[1] in names]
    return [r.split(',') for r in rows_a[1:]] == [[r.split(',')[i] for i in keep] for r in rows_b]
def paths_bin_common(pa, pb):
    """paths.bin across a format change, value by value: format 2 (the market's log return
    and control, 14 fields a strategy) against 3 (16 fields; without an index), and 3
    against 4 (the benchmark's volatility after the market's control; 21 fields a
    strategy). The fields both hold must be equal, and the ones 3 added 0."""
    ma = json.load(open(os.path.join(os.path.dirname(pa), 'shard.json')))
    mb = json.load(open(os.path.join(os.path.dirname(pb), 'shard.json')))
    formats = (ma.get('paths_format'), mb.get('paths_format'))
    layouts = {2: (2, 14), 3: (2, 16), 4: (3, 21)}
    if formats not in ((2, 3), (3, 4)): return filecmp.cmp(pa, pb, shallow=False)
    index = 3 if (ma['scenario'].get('benchmark') or {}).get('index') is not None else 0
    (ha, fa), (hb, fb) = layouts[formats[0]], layouts[formats[1]]
    s = len(ma['strategies']); da = open(pa, 'rb').read(); db = open(pb, 'rb').read()
    wa, wb = ha + index + fa * s, hb + index + fb * s
    va = struct.unpack('<%dd' % (len(da) // 8), da); vb = struct.unpack('<%dd' % (len(db) // 8), db)
    if len(va) // wa != len(vb) // wb: return False
    for p in range(len(va) // wa):
        ra, rb = va[p * wa:(p + 1) * wa], vb[p * wb:(p + 1) * wb]
        if ra[:2] != rb[:2] or ra[ha:ha + index] != rb[hb:hb + index]: return False
        for k in range(s):
            a0, b0 = ha + index + fa * k, hb + index + fb * k
            if ra[a0:a0 + fa] != rb[b0:b0 + fa]: return False
            if formats == (2, 3) and any(v != 0.0 for v in rb[b0 + fa:b0 + fb]): return False
    return True
def without_new_text(t):
    """Text of AFTER without what the risk figures added: the table's `vol/yr` and
    `P(o,<=v)` columns and their key, the benchmark's volatility, the history block's
    volatility columns, and report.html's four risk columns."""
    t = re.sub(r'; volatility -?[0-9.]+%/yr', '', t)
    lines, out, in_table, in_history = t.split('\n'), [], False, False
    for line in lines:
        if line.startswith('vol/yr: volatility of one-step returns'): continue
        if line.startswith('strategy ') and 'vol/yr' in line: in_table = True
        elif 'vol. - mkt' in line: in_history = True
        if in_table and line.strip():
            line = line[:90] + line[108:]
        elif in_history and line.strip():
            line = line[:59]
        else:
            in_table = in_history = False
        out.append(line)
    t = '\n'.join(out)
    t = re.sub(r'<th>volatility, %/yr \(the benchmark.s: [0-9.]+\)</th><th>beta</th><th>size tilt</th>'
               r'<th>P\(outperform with equal or less risk\)</th>', '', t)
    t = re.sub(r'(<tr><td>[^<]*</td>(?:<td>[^<]*</td>){5})(?:<td>[^<]*</td>){4}(?=(?:<td>[^<]*</td>){3}</tr>)', r'\1', t)
    return t
unchecked = []
def scrub(d):
    if isinstance(d, dict):
        return {k: scrub(v) for k, v in d.items() if k not in ('seconds', 'asset_steps_per_second', 'git_commit', 'checksum')}
    if isinstance(d, list): return [scrub(v) for v in d]
    return d
def norm_json(p):
    d = scrub(json.load(open(p)))
    for k in ('run',):
        if k in d:
            d[k].pop('seconds', None); d[k].pop('asset_steps_per_second', None)
    if 'manifest' in d: d['manifest'].pop('git_commit', None)
    return d
def norm_text(p):
    t = open(p, errors='replace').read()
    t = re.sub(r', [0-9.]+ s, [0-9.e+]+ asset-steps/s', ', T s, R asset-steps/s', t)
    t = re.sub(r'<tr><th>seconds</th><td>[^<]*</td></tr>', '', t)
    t = re.sub(r'<tr><th>asset-steps per second</th><td>[^<]*</td></tr>', '', t)
    t = re.sub(r'[0-9a-f]{40}', 'COMMIT', t)
    t = re.sub(r' in [0-9.]+ s; wrote', ' in T s; wrote', t)
    return t
bad = 0; n = 0
for root, dirs, files in os.walk(a):
    for f in files:
        pa = os.path.join(root, f); rel = os.path.relpath(pa, a); pb = os.path.join(b, rel)
        n += 1
        if not os.path.exists(pb): print('missing in', b, rel); bad += 1; continue
        if f in ('summary.json', 'shard.json', 'options.json'):
            ja, jb = norm_json(pa), norm_json(pb)
            if allow_new:
                jb = common(ja, jb)
                if f == 'shard.json': ja.pop('paths_format', None); jb.pop('paths_format', None)
            ok = ja == jb
            if f == 'shard.json':
                ja.pop('checksum', None); jb.pop('checksum', None); ok = ja == jb
        elif allow_new and f == 'paths.csv':
            ok = csv_common(pa, pb)
        elif allow_new and f == 'paths.bin':
            ok = paths_bin_common(pa, pb)
        elif allow_new and f.endswith('.parquet') and not filecmp.cmp(pa, pb, shallow=False):
            unchecked.append(rel); ok = True
        elif f.endswith(('.stdout', '.stderr', '.html', '.toml')):
            ok = norm_text(pa) == norm_text(pb)
            if allow_new and not ok:
                ok = norm_text(pa) == without_new_text(norm_text(pb))
        elif f == '.sptlab-out.json':
            ok = True
        else:
            ok = filecmp.cmp(pa, pb, shallow=False)
        if not ok: print('DIFFERS', rel); bad += 1
for root, dirs, files in os.walk(b):
    for f in files:
        rel = os.path.relpath(os.path.join(root, f), b)
        if not os.path.exists(os.path.join(a, rel)): print('extra in', b, rel); bad += 1
for rel in unchecked: print('UNCHECKED (parquet; compare a csv run)', rel)
print(f'{n} files compared, {bad} problems' + (f', {len(unchecked)} unchecked' if unchecked else ''))
sys.exit(1 if bad else 0)
