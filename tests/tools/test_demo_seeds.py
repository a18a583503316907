"""tools/analysis/demo_seeds.py on tiny sizes: the table holds each run's own R@1."""
import re

import pytest

from conftest import run_tool


@pytest.mark.slow
def test_demo_seeds_prints_measured_table(tmp_path):
    data = tmp_path / 'motion'
    proc = run_tool(['tools/analysis/demo_seeds.py', '--data', str(data), '--num-train', '12',
                     '--num-val', '6', '--epochs', '1', '--seeds', '0', '1', '--modes', 'mug', 'mean',
                     '--work-dir', str(tmp_path / 'work')])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert (data / 'meta.json').is_file()   # the data was written, at the sizes asked
    runs = re.findall(r'\] (.+), seed (\d): t2v R@1 ([0-9.]+), final train loss ([0-9.]+)', log)
    assert {(label, seed) for label, seed, *_ in runs} == {
        (label, seed) for label in ('Mug, no [SOT] (demo head)', 'mean pooling') for seed in '01'}
    assert '(6 videos, 18 captions; chance 16.67) after 1 epochs' in log
    for label in ('Mug, no [SOT] (demo head)', 'mean pooling'):
        row = next(line for line in log.splitlines() if line.startswith(f'| {label}'))
        cells = [c.strip() for c in row.strip('|').split('|')]
        measured = {seed: (r1, loss) for name, seed, r1, loss in runs if name == label}
        assert cells[1:3] == [measured['0'][0], measured['1'][0]], row
        assert cells[5:7] == [measured['0'][1], measured['1'][1]], row
        r1 = [float(measured[s][0]) for s in '01']
        assert abs(float(cells[3]) - sum(r1) / 2) <= 0.06 and cells[4] == f'{min(r1):.1f}', row
