#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The side-by-side benchmark (docs/bench.md), from a built bench/ directory.

  run.py --dir BUILD/bench [--calls N] [--ms N] [--reps N] [--no-contention]

1. Instructions per call: every instr-<variant> program under callgrind,
   once with --toggle-collect=bench_add and once with bench_check; the
   counted total divided by the calls the program reports making.
2. Indirect calls/jumps (call *, jmp *; blr/br on aarch64) in the core's
   public functions, from objdump of each variant's archive: in the
   function's own body, and in everything it reaches by direct calls.
3. Adds per second under contention (the contention program).

JSON lines on stdout (one object per measurement), a short table on
stderr; both are also written to the bench directory (results.jsonl,
table.txt).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

VARIANTS = ['linux', 'x86_64', 'x86_64-static', 'arm64', 'arm64-norec', 'arm64-static',
            'sim-arm64', 'sim-x86', 'vcpu', 'noop']
NOTES = {
    'linux': 'baseline: rmap.c protocol + x86 arch part, restated',
    'x86_64': 'arch/x86_64 as shipped (freestanding flags), port hooks stubbed',
    'arm64': 'arch/arm64 recorder build (TLBIs/DSBs counted by a recorder)',
    'arm64-norec': 'same, recorder body empty (the call remains)',
    'x86_64-static': 'arch/x86_64 bound at compile time (-Dstatic_backend=true)',
    'arm64-static': 'arm64 recorder build, bound at compile time',
    'sim-arm64': 'hosted sim backend, arm64 model (simulated TLBIs)',
    'sim-x86': 'hosted sim backend, x86 model',
    'vcpu': 'hosted vcpu backend, caller is the one vCPU (one post per add)',
    'noop': 'the core alone, hooks do nothing',
}
CORE_FUNCS = ['tlbb_add_page', 'tlbb_add_range', 'tlbb_flush', 'tlbb_flush_dirty',
              'tlbb_flush_pending', 'tlbb_flush_pending_slow', 'tlbb_should_defer']
ARCHIVES = [('x86_64', 'libbench-x86_64.a'), ('x86_64-static', 'libbench-x86_64-static.a'),
            ('core', 'libbench-core.a'), ('arm64-recorder', 'libbench-arm64-recorder.a'),
            ('arm64-static', 'libbench-arm64-recorder-static.a'), ('hosted', 'libbench-hosted.a')]
RECORDER = 'tlbb_a64_record'


def fail(msg):
    print('bench/run.py: ' + msg, file=sys.stderr)
    sys.exit(1)


def parse_callgrind(path):
    """The collected total and each function's self cost (first event, Ir)."""
    total, self_cost, fn, call_cost_next = None, {}, None, False
    with open(path) as f:
        for line in f:
            if line.startswith('summary:') or (total is None and line.startswith('totals:')):
                total = int(line.split()[1])
            elif line.startswith('fn='):
                fn = line[3:].strip()
            elif line.startswith('calls='):
                call_cost_next = True  # the next cost line is the callee's, inclusive
            elif line[:1].isdigit() or line[:1] in '+-*':
                parts = line.split()
                if call_cost_next:
                    call_cost_next = False
                elif fn is not None and len(parts) >= 2:
                    self_cost[fn] = self_cost.get(fn, 0) + int(parts[1])
    if total is None:
        fail('no summary line in ' + path)
    return total, self_cost


def count_instructions(exe, wrapper, calls):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'callgrind.out')
        p = subprocess.run(['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
                            '--toggle-collect=' + wrapper, '--compress-strings=no',
                            '--compress-pos=no', exe, str(calls)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail('%s under callgrind failed:\n%s%s' % (exe, p.stdout, p.stderr[-2000:]))
        info = json.loads(p.stdout.strip().splitlines()[-1])
        total, self_cost = parse_callgrind(out)
    return info, total, self_cost


FUNC_RE = re.compile(r'^[0-9a-f]+ <([^>]+)>:$')
MEMBER_RE = re.compile(r'^(\S+):\s+file format')
INDIRECT_RE = re.compile(r'\s(?:notrack\s+)?(?:call|jmp)q?\s+\*|\s(?:blr|br)\s+x\d+')
DIRECT_RE = re.compile(r'\s(?:call|jmp|bl|b)q?\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>')
BRANCH_RE = re.compile(r'\s(?:call|jmp|bl|b)q?\s')
RELOC_RE = re.compile(r'\sR_(?:X86_64_PLT32|X86_64_PC32|AARCH64_CALL26|AARCH64_JUMP26)\s+([^\s+-]+)')


def disassemble(archive):
    """{(member, function): {'indirect': n, 'targets': set of names}}."""
    p = subprocess.run(['objdump', '-dr', '--no-show-raw-insn', archive],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail('objdump failed on %s: %s' % (archive, p.stderr))
    funcs, member, cur, last_branch = {}, None, None, False
    for line in p.stdout.splitlines():
        m = MEMBER_RE.match(line)
        if m:
            member, cur = m.group(1), None
            continue
        m = FUNC_RE.match(line)
        if m:
            cur = funcs.setdefault((member, m.group(1)), {'indirect': 0, 'targets': set()})
            continue
        if cur is None:
            continue
        m = RELOC_RE.search(line)
        if m:
            # A relocated call names its target here, not in the instruction.
            if last_branch:
                cur['targets'].add(m.group(1))
            continue
        last_branch = False
        if INDIRECT_RE.search(line):
            cur['indirect'] += 1
        elif BRANCH_RE.search(line):
            last_branch = True
            m = DIRECT_RE.search(line)
            if m:
                cur['targets'].add(m.group(1))
    return funcs


def indirect_counts(funcs, name):
    """(in the body, reachable by direct calls) or None if there is no symbol."""
    by_name = {}
    for (member, fn) in funcs:
        by_name.setdefault(fn, []).append(member)
    if name not in by_name:
        return None
    start = (by_name[name][0], name)
    seen, todo, reach = {start}, [start], 0
    while todo:
        key = todo.pop()
        reach += funcs[key]['indirect']
        for t in funcs[key]['targets']:
            members = by_name.get(t)
            if not members:
                continue  # outside the archive (libc, the port, the recorder)
            nxt = (key[0], t) if key[0] in members else (members[0], t)
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return funcs[start]['indirect'], reach


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True, help='the build directory of bench/')
    ap.add_argument('--calls', type=int, default=100000)
    ap.add_argument('--ms', type=int, default=500, help='contention: ms per run')
    ap.add_argument('--reps', type=int, default=3, help='contention: runs per point')
    ap.add_argument('--no-contention', action='store_true')
    a = ap.parse_args()
    for tool in ('valgrind', 'objdump'):
        if not shutil.which(tool):
            fail(tool + ' not found (Debian: valgrind, binutils)')

    results = []
    ncpus = os.cpu_count() or 0
    results.append({'benchmark': 'machine', 'online_cpus': ncpus, 'cpu_model': cpu_model(),
                    'note': '%d online CPUs shared with other work; 4 contention threads '
                            'oversubscribe them' % ncpus if ncpus < 4 else
                            '%d online CPUs' % ncpus})

    # ---- instructions per call ------------------------------------------------
    per = {}
    for v in VARIANTS:
        exe = os.path.join(a.dir, 'instr-' + v)
        if not os.path.exists(exe):
            continue  # not built here (no liburcu, not an x86-64 host)
        info, add_total, add_self = count_instructions(exe, 'bench_add', a.calls)
        info2, chk_total, _ = count_instructions(exe, 'bench_check', a.calls)
        r = {'benchmark': 'instructions', 'variant': v,
             'instructions_per_add': round(add_total / info['adds'], 2),
             'instructions_per_idle_check': round(chk_total / info2['idle_checks'], 2),
             'calls': info['adds'], 'note': NOTES[v]}
        if v.startswith('arm64'):
            r['recorder_body_instructions_per_add'] = round(add_self.get(RECORDER, 0) / info['adds'], 2)
        per[v] = r
        results.append(r)
    base = per.get('linux')
    for r in per.values():
        if base:
            r['add_ratio_to_linux'] = round(r['instructions_per_add'] / base['instructions_per_add'], 2)
            r['idle_check_ratio_to_linux'] = round(
                r['instructions_per_idle_check'] / base['instructions_per_idle_check'], 2)

    # ---- the vcpu backend in an emulator's shape --------------------------------
    vlook, vhold = {}, []
    exe = os.path.join(a.dir, 'vcpu-lookup')
    if os.path.exists(exe):
        for label, wrapper in (('library', 'bench_lookup_lib'), ('inline', 'bench_lookup_inline')):
            info, total, _ = count_instructions(exe, wrapper, a.calls)
            r = {'benchmark': 'vcpu_tlb_lookup', 'variant': label,
                 'instructions_per_lookup': round(total / info['lookups'], 2),
                 'lookups': info['lookups'], 'hit_ratio': round(info['hits_inline'] / info['lookups'], 2),
                 'note': 'tlbb_vcpu_tlb_lookup() through a noinline wrapper' if label == 'library'
                         else 'tlbb_vcpu_tlb_lookup_inline() through a noinline wrapper'}
            vlook[label] = r
            results.append(r)
    exe = os.path.join(a.dir, 'vcpu-lock-hold')
    if os.path.exists(exe):
        p = subprocess.run([exe, '--vcpus', '3', '--rounds', '50'], capture_output=True, text=True)
        if p.returncode != 0:
            fail('vcpu-lock-hold failed: ' + p.stderr)
        vhold = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        results += vhold

    # ---- indirect calls in the core -------------------------------------------
    ind = {}
    for label, fname in ARCHIVES:
        path = os.path.join(a.dir, fname)
        if not os.path.exists(path):
            continue
        funcs = disassemble(path)
        for fn in CORE_FUNCS:
            c = indirect_counts(funcs, fn)
            r = {'benchmark': 'indirect_calls', 'archive': label, 'function': fn,
                 'indirect_in_body': 'inline' if c is None else c[0],
                 'indirect_reachable': 'inline' if c is None else c[1]}
            ind[(label, fn)] = r
            results.append(r)

    # ---- contention -----------------------------------------------------------
    cont = []
    if not a.no_contention:
        exe = os.path.join(a.dir, 'contention')
        p = subprocess.run([exe, '--ms', str(a.ms), '--reps', str(a.reps)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail('contention failed: ' + p.stderr)
        cont = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        lin = {(c['threads'], c['spaces']): c['adds_per_s'] for c in cont if c['variant'] == 'linux'}
        for c in cont:
            c['ratio_to_linux'] = round(c['adds_per_s'] / lin[(c['threads'], c['spaces'])], 2)
        results += cont

    lines = [json.dumps(r) for r in results]
    table = render_table(per, ind, cont, a, ncpus) + render_vcpu(vlook, vhold)
    with open(os.path.join(a.dir, 'results.jsonl'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(a.dir, 'table.txt'), 'w') as f:
        f.write(table)
    print('\n'.join(lines))
    sys.stdout.flush()
    print(table, file=sys.stderr, end='')


def render_vcpu(vlook, vhold):
    out = []
    if vlook:
        out.append('')
        out.append('vcpu TLB lookup, instructions per lookup (callgrind, wrapper included, '
                   'hit ratio %.2f)' % vlook['inline']['hit_ratio'])
        for label in ('library', 'inline'):
            out.append('%-10s %8.1f   %s' % (label, vlook[label]['instructions_per_lookup'],
                                           vlook[label]['note']))
    if vhold:
        out.append('')
        out.append('vcpu race check that flushes: longest continuous hold of the page-table lock '
                   'per round (vCPUs take the lock in every block)')
        out.append('%-8s %6s %7s %12s %12s' % ('mode', 'vcpus', 'rounds', 'median us', 'max us'))
        for r in vhold:
            out.append('%-8s %6d %7d %12.1f %12.1f' % (r['mode'], r['vcpus'], r['rounds'],
                                                    r['median_hold_us'], r['max_hold_us']))
    return '\n'.join(out) + ('\n' if out else '')


def render_table(per, ind, cont, a, ncpus):
    out = []
    calls = next(iter(per.values()))['calls'] if per else 0
    out.append('instructions per call (callgrind --toggle-collect on the wrapper, wrapper '
               'included; %d calls each)' % calls)
    out.append('%-12s %8s %8s %11s %8s   %s' % ('variant', 'add', 'vs linux', 'idle check',
                                             'vs linux', 'what'))
    for v, r in per.items():
        note = r['note']
        if 'recorder_body_instructions_per_add' in r:
            note += '; recorder body %.1f/add' % r['recorder_body_instructions_per_add']
        out.append('%-12s %8.1f %7.2fx %11.1f %7.2fx   %s' % (
            v, r['instructions_per_add'], r.get('add_ratio_to_linux', 0),
            r['instructions_per_idle_check'], r.get('idle_check_ratio_to_linux', 0), note))
    if ind:
        labels = [l for l, _ in ARCHIVES if any(k[0] == l for k in ind)]
        out.append('')
        out.append('indirect calls/jumps in the core (objdump; in the body / reachable by '
                   'direct calls; "inline" = no symbol)')
        out.append('%-20s' % 'function' + ''.join('%16s' % l for l in labels))
        for fn in CORE_FUNCS:
            cells = []
            for l in labels:
                r = ind.get((l, fn))
                if r is None or r['indirect_in_body'] == 'inline':
                    cells.append('%16s' % 'inline')
                else:
                    cells.append('%16s' % ('%d / %d' % (r['indirect_in_body'], r['indirect_reachable'])))
            out.append('%-20s' % fn + ''.join(cells))
    if cont:
        variants = []
        for c in cont:
            if c['variant'] not in variants:
                variants.append(c['variant'])
        out.append('')
        out.append('contention: adds/s, median of %d alternating runs of %d ms; %d online CPUs%s'
                   % (a.reps, a.ms, ncpus,
                      ' (4 threads oversubscribe them)' if ncpus < 4 else ''))
        out.append('%7s %-11s' % ('threads', 'spaces') + ''.join('%14s' % v for v in variants)
                   + ''.join('%14s' % (v + '/linux') for v in variants if v != 'linux'))
        points = []
        for c in cont:
            if (c['threads'], c['spaces']) not in points:
                points.append((c['threads'], c['spaces']))
        for t, s in points:
            row = {c['variant']: c for c in cont if c['threads'] == t and c['spaces'] == s}
            out.append('%7d %-11s' % (t, s)
                       + ''.join('%14s' % ('{:,}'.format(int(row[v]['adds_per_s']))) for v in variants)
                       + ''.join('%13.2fx' % row[v]['ratio_to_linux'] for v in variants if v != 'linux'))
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    main()
