"""tools/analysis/benchmark_class_head.py: a tiny run prints Mug and global side by side."""
import torch

from conftest import load_script
from mmstan.analysis.benchmark_class_head import PASSES, class_names


def test_tiny_run_times_both_scorings_for_every_pass(capsys, tmp_path):
    label_map = tmp_path / 'names.txt'
    label_map.write_text('abseiling\nair drumming\nbending back\n')
    threads = torch.get_num_threads()
    tool = load_script('tools/analysis/benchmark_class_head.py')
    results = tool.main(['--label-map', str(label_map), '--classes', '5', '--batch', '2',
                         '--frames', '3', '--dim', '16', '--repeats', '2', '--threads', '1'])
    out = capsys.readouterr().out
    assert torch.get_num_threads() == threads    # --threads is undone on return
    assert [r['kind'] for r in results] == list(PASSES)
    for r in results:
        assert r['mug_s'] > 0 and r['global_s'] > 0
        assert abs(r['ratio'] - r['mug_s'] / r['global_s']) < 1e-12
    assert '5 classes' in out and 'batch 2 x 3 frames, E=16' in out
    assert 'mug (ms)' in out and 'global (ms)' in out and 'mug/global' in out
    for kind in PASSES:
        assert kind in out


def test_class_names_repeat_to_the_requested_count(tmp_path):
    assert class_names(None, 3) == ['abseiling', 'air drumming', 'answering questions']
    assert len(class_names(None, 400)) == 400
    label_map = tmp_path / 'names.txt'
    label_map.write_text('a\nb\n')
    assert class_names(str(label_map), 5) == ['a', 'b', 'a', 'b', 'a']
