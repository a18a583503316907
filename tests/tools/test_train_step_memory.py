"""tools/analysis/train_step_memory.py: the architecture it builds, and a tiny run of both
settings (each in its own subprocess) printing the side-by-side table and the ratio."""
import open_clip
import pytest

from conftest import load_script
from mmstan.analysis.train_step_memory import clip_arch


def test_clip_arch_is_open_clips_config_with_the_vision_tower_cut():
    full = open_clip.get_model_config('ViT-L-14')
    cut = clip_arch('ViT-L-14', 8)
    assert full['vision_cfg']['layers'] == 24 and cut['vision_cfg']['layers'] == 8
    assert {k: v for k, v in cut['vision_cfg'].items() if k != 'layers'} == \
        {k: v for k, v in full['vision_cfg'].items() if k != 'layers'}
    assert cut['text_cfg'] == full['text_cfg'] and clip_arch('ViT-L-14') == full


@pytest.mark.slow
def test_tiny_run_prints_both_settings_and_their_ratio(capsys):
    tool = load_script('tools/analysis/train_step_memory.py')
    results = tool.main(['--arch', 'ViT-B-32', '--vision-layers', '2', '--frames', '2',
                         '--size', '64', '--stan-layers', '1'])
    out = capsys.readouterr().out
    assert [r['checkpointing'] for r in results] == [False, True]
    for r in results:
        assert r['vision_layers'] == 2 and r['frames'] == 2 and r['peak_mb'] >= r['extra_mb'] >= 0
    assert 'ViT-B-32 (2 vision layers of the full tower: cut by --vision-layers' in out
    assert '| off |' in out and '| on |' in out and 'extra memory without / with checkpointing' in out
