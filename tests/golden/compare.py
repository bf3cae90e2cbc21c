"""Compares two golden folders written by make.sh: JSON without its timing fields,
git commit and checksum; text with timings blanked; everything else byte for byte.
usage: compare.py BEFORE AFTER (exit 1 when anything differs)"""
import sys, os, json, re, filecmp
a, b = sys.argv[1], sys.argv[2]
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
            ok = norm_json(pa) == norm_json(pb)
            if f == 'shard.json':
                da, db = norm_json(pa), norm_json(pb); da.pop('checksum', None); db.pop('checksum', None); ok = da == db
        elif f.endswith(('.stdout', '.stderr', '.html', '.toml')):
            ok = norm_text(pa) == norm_text(pb)
        elif f == '.sptlab-out.json':
            ok = True
        else:
            ok = filecmp.cmp(pa, pb, shallow=False)
        if not ok: print('DIFFERS', rel); bad += 1
for root, dirs, files in os.walk(b):
    for f in files:
        rel = os.path.relpath(os.path.join(root, f), b)
        if not os.path.exists(os.path.join(a, rel)): print('extra in', b, rel); bad += 1
print(f'{n} files compared, {bad} problems')
sys.exit(1 if bad else 0)
