#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plot the batch-size sweeps: pages/s against batch size, per page vs batched.

  plot-sweep.py --sim SIM.json --vcpu VCPU.json --out OUT.svg

SIM.json is `reclaim --bench` output (both sim models), VCPU.json is
`vmm-reclaim --json` output. The sim's per-page figure is its batch-1 run
(one completion per page); the vCPU sweep measures per page at every point
(one grace period per page), so both of its curves are drawn. Two panels,
both axes logarithmic: the two backends' rates are four orders apart.
Needs gnuplot (Debian gnuplot-nox); the data and script are left next to
OUT for anyone re-plotting by hand.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sim', required=True)
    ap.add_argument('--vcpu', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    if not shutil.which('gnuplot'):
        sys.exit('plot-sweep.py: gnuplot not found (Debian package gnuplot-nox)')
    with open(a.sim) as f:
        sim = json.load(f)
    with open(a.vcpu) as f:
        vcpu = json.load(f)

    outdir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(outdir, exist_ok=True)
    stem = os.path.splitext(os.path.abspath(a.out))[0]
    dats = {}
    for model in ('arm64', 'x86'):
        rows = sorted((r for r in sim['runs'] if r['model'] == model), key=lambda r: r['batch'])
        if not rows:
            continue
        per_page = rows[0]['pages_per_s'] if rows[0]['batch'] == 1 else None
        path = '%s-sim-%s.dat' % (stem, model)
        with open(path, 'w') as f:
            f.write('# batch batched_pages_per_s per_page_pages_per_s (batch-1 run)\n')
            for r in rows:
                f.write('%d %.0f %s\n' % (r['batch'], r['pages_per_s'],
                                          '%.0f' % per_page if per_page else 'NaN'))
        dats['sim-' + model] = path
    path = stem + '-vcpu.dat'
    with open(path, 'w') as f:
        f.write('# batch batched_pages_per_s per_page_pages_per_s\n')
        for r in sorted(vcpu['rows'], key=lambda r: r['batch']):
            f.write('%d %.0f %.0f\n' % (r['batch'], r['batched_pages_per_s'],
                                        r['per_page_pages_per_s']))
    dats['vcpu'] = path

    sim_title = 'sim backend: %d simulated CPUs, %d pages per run, %s' % (
        sim.get('cpus', 0), sim.get('pages_per_run', 0), sim.get('statistic', ''))
    vcpu_title = 'vcpu backend: %d vCPU threads, %d ms per run, median of %d pairs' % (
        vcpu.get('vcpus', 0), vcpu.get('ms_per_run', 0), vcpu.get('pairs_per_point', 0))
    gp = stem + '.gp'
    with open(gp, 'w') as f:
        f.write('''set terminal svg size 1200,520 dynamic enhanced font "sans,13" background "white"
set output "{out}"
set multiplot layout 1,2 title "tlbbatch reclaim: pages/s against batch size, per page vs batched" font "sans,15"
set logscale xy
set xrange [0.8:640]
set xtics (1,2,4,8,16,32,64,128,256,512)
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set xlabel "batch size (pages per flush)"
set ylabel "pages reclaimed per second"
set key top left box opaque
set format y "10^{{%T}}"
set title "{sim_title}" font "sans,12"
plot "{a64}" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "arm64 model, batched", \\
     "{a64}" using 1:3 with lines lw 2 dt 2 lc rgb "#1f77b4" title "arm64 model, per page (batch 1)", \\
     "{x86}" using 1:2 with linespoints lw 2 pt 5 lc rgb "#d62728" title "x86 model, batched", \\
     "{x86}" using 1:3 with lines lw 2 dt 2 lc rgb "#d62728" title "x86 model, per page (batch 1)"
set title "{vcpu_title}" font "sans,12"
plot "{vc}" using 1:2 with linespoints lw 2 pt 9 lc rgb "#2ca02c" title "batched: one grace period per batch", \\
     "{vc}" using 1:3 with linespoints lw 2 dt 2 pt 6 lc rgb "#2ca02c" title "per page: one grace period per page"
unset multiplot
'''.format(out=os.path.abspath(a.out), sim_title=sim_title, vcpu_title=vcpu_title,
           a64=dats.get('sim-arm64', '/dev/null'), x86=dats.get('sim-x86', '/dev/null'),
           vc=dats['vcpu']))
    p = subprocess.run(['gnuplot', gp], capture_output=True, text=True, cwd=outdir)
    if p.returncode != 0:
        sys.exit('plot-sweep.py: gnuplot failed:\n' + p.stderr)


if __name__ == '__main__':
    main()
