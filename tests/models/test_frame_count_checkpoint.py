"""A checkpoint stored for another frame count keeps its temporal position embedding
(issue 16, defect 1): ``stan.temporal_pos`` is resampled as it loads, exactly as the
forward pass resamples it (``'paper'``), or cut / extended by row (``'official'``).

Part (b) covers every config that loads a checkpoint, read from the configs and their
metafiles (``tools/analysis/frame_count_table.py`` prints the same table)."""
import os.path as osp

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from conftest import load_script
from mmstan.analysis.frame_count_table import LogRecords, checkpoint_pairs, temporal_pos_diff
from mmstan.models.backbones import CLIPSTAN

TOL = 1e-6

#: (config, source config, source frames, target frames): every config under configs/
#: that loads a checkpoint. test_table_matches_the_configs fails when a config changes.
TABLE = [
    ('configs/mugstan/zeroshot_didemo.py', 'configs/mugstan/webvid_pretrain.py', 12, 64),
    ('configs/mugstan/zeroshot_hmdb51.py', 'configs/mugstan/webvid_pretrain.py', 12, 12),
    ('configs/mugstan/zeroshot_k400.py', 'configs/mugstan/webvid_pretrain.py', 12, 12),
    ('configs/mugstan/zeroshot_lsmdc.py', 'configs/mugstan/webvid_pretrain.py', 12, 12),
    ('configs/mugstan/zeroshot_msrvtt.py', 'configs/mugstan/webvid_pretrain.py', 12, 12),
    ('configs/mugstan/zeroshot_ucf101.py', 'configs/mugstan/webvid_pretrain.py', 12, 12),
    ('configs/stan/ava_k400init.py', 'configs/stan/k400.py', 8, 8),
]



@pytest.fixture
def log_records():
    logger, records = MMLogger.get_current_instance(), LogRecords()
    logger.addHandler(records)
    yield records.messages
    logger.removeHandler(records)


def tiny_stan(arch, frames, seed, **kwargs):
    torch.manual_seed(seed)
    return CLIPSTAN(arch, num_frames=frames, num_layers=2, **kwargs)


def save(model, path):
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


def max_diff(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def test_interpolation_is_the_forward_one():
    """The one interpolation, used by forward's temporal_embedding and on load."""
    from mmstan.models.backbones.stan import fit_time_table, interpolate_temporal_pos

    pos = torch.randn(8, 5)
    assert interpolate_temporal_pos(pos, 8) is pos
    up = interpolate_temporal_pos(pos, 15)  # align_corners: every other row is a source row
    torch.testing.assert_close(up[::2], pos)
    torch.testing.assert_close(up[1::2], (pos[:-1] + pos[1:]) / 2)
    table = torch.randn(4, 5)
    torch.testing.assert_close(fit_time_table(table, 2), table[:2])
    torch.testing.assert_close(fit_time_table(table, 6), torch.cat([table, table[-1:], table[-1:]]))


@pytest.mark.parametrize('src_frames,dst_frames', [(8, 16), (16, 8)])
def test_other_frame_count_loads_resampled(tiny_arch, tmp_path, capsys, log_records,
                                           src_frames, dst_frames):
    """8 -> 16 (an 8-frame K400 model as load_from of configs/stan/k400_16f.py) and back,
    through mmengine's load_checkpoint and torch's strict load_state_dict."""
    source = tiny_stan(tiny_arch, src_frames, seed=0)
    expected = source.stan.temporal_embedding(dst_frames).detach()
    ckpt = save(source, tmp_path / 'source.pth')

    target = tiny_stan(tiny_arch, dst_frames, seed=1)
    assert max_diff(target.stan.temporal_pos.data, expected) > 1e-3  # not vacuous
    load_checkpoint(target, ckpt, map_location='cpu', strict=False, logger='current')
    assert max_diff(target.stan.temporal_pos.data, expected) <= TOL
    out = capsys.readouterr().out + '\n'.join(log_records)
    assert 'size mismatch' not in out and 'do not match' not in out, out
    resampled = [m for m in log_records if 'stan.temporal_pos' in m]
    assert len(resampled) == 1 and f'[{src_frames}, 64]' in resampled[0] \
        and f'[{dst_frames}, 64]' in resampled[0], log_records

    target = tiny_stan(tiny_arch, dst_frames, seed=1)
    target.load_state_dict(source.state_dict(), strict=True)
    assert max_diff(target.stan.temporal_pos.data, expected) <= TOL
    # every other weight loads unchanged
    for key, value in source.state_dict().items():
        if key != 'stan.temporal_pos':
            torch.testing.assert_close(target.state_dict()[key], value, msg=key)
    # and the loaded model embeds dst_frames as the source model does
    torch.testing.assert_close(target.stan.temporal_embedding(dst_frames), expected)


def test_same_frame_count_logs_nothing(tiny_arch, log_records):
    source = tiny_stan(tiny_arch, 8, seed=0)
    target = tiny_stan(tiny_arch, 8, seed=1)
    target.load_state_dict(source.state_dict(), strict=True)
    torch.testing.assert_close(target.stan.temporal_pos, source.stan.temporal_pos)
    assert not [m for m in log_records if 'temporal_pos' in m]


@pytest.mark.parametrize('src_frames,dst_frames', [(8, 96), (96, 8), (8, 16)])
def test_official_table_is_kept_by_row(tiny_arch, tmp_path, capsys, log_records,
                                       src_frames, dst_frames):
    """input_style='official': frame t reads row t of a max(num_frames, 64)-row table;
    rows are kept, never interpolated, and extra rows repeat the last one."""
    source = tiny_stan(tiny_arch, src_frames, seed=0, preset='official')
    src_rows, table = max(src_frames, 64), source.stan.temporal_pos.detach()
    dst_rows = max(dst_frames, 64)
    assert table.shape[0] == src_rows
    ckpt = save(source, tmp_path / 'source.pth')
    for load in ('mmengine', 'torch'):
        target = tiny_stan(tiny_arch, dst_frames, seed=1, preset='official')
        if load == 'mmengine':
            load_checkpoint(target, ckpt, map_location='cpu', strict=False, logger='current')
        else:
            target.load_state_dict(source.state_dict(), strict=True)
        loaded = target.stan.temporal_pos.data
        assert loaded.shape[0] == dst_rows
        common = min(src_rows, dst_rows)
        assert max_diff(loaded[:common], table[:common]) == 0
        if dst_rows > src_rows:
            assert max_diff(loaded[common:], table[-1:].expand(dst_rows - common, -1)) == 0
    out = capsys.readouterr().out + '\n'.join(log_records)
    assert 'size mismatch' not in out, out
    assert bool([m for m in log_records if 'stan.temporal_pos' in m]) == (src_rows != dst_rows)


def test_converted_official_checkpoint_into_more_frames(tmp_path, log_records):
    """tools/model_converters' output (the official 64-row table) as load_from of a
    recognizer with a 96-frame official-style backbone: rows 0-63 as converted, 64-95 the
    last row; its first frames embed as the official model's."""
    from mmaction.registry import MODELS
    from official_layout import ARCH, DEPTH, official_state, official_video

    from mmstan.models.official_checkpoint import convert_official_backbone

    state = official_state()
    converted, unmatched, _ = convert_official_backbone(state)
    assert not unmatched and converted['stan.temporal_pos'].shape[0] == 64
    ckpt = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in converted.items()}), ckpt)
    model = MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='CLIPSTAN', arch=ARCH, num_frames=96, num_layers=DEPTH,
                      preset='official'),
        cls_head=dict(type='VideoLinearHead', num_classes=3, in_channels=ARCH['embed_dim'])))
    load_checkpoint(model, ckpt, map_location='cpu', strict=False, logger='current')
    table, loaded = converted['stan.temporal_pos'], model.backbone.stan.temporal_pos.data
    assert loaded.shape[0] == 96 and max_diff(loaded[:64], table) == 0
    assert max_diff(loaded[64:], table[-1:].expand(32, -1)) == 0
    assert not [m for m in log_records if 'size mismatch' in m]
    assert [m for m in log_records if 'backbone.stan.temporal_pos: checkpoint [64, 64] '
            'resampled to [96, 64]' in m]
    video = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone.eval()(video), official_video(state, video),
                                   atol=1e-5, rtol=1e-5)


def test_table_matches_the_configs():
    rows = checkpoint_pairs()
    print('\n' + '\n'.join(f'{c} <- {s}: {sf} -> {tf} frames' for c, s, sf, tf in rows))
    assert rows == TABLE


@pytest.mark.parametrize('row', TABLE, ids=[osp.basename(r[0]) for r in TABLE])
def test_config_loads_its_source_checkpoint(row):
    """Tiny builds of the config and its source config: the loaded temporal_pos is the
    source model's temporal_embedding(target frames)."""
    config, source, src_frames, dst_frames = row
    diff, mismatch = temporal_pos_diff(config, source)
    print(f'\n| {config} | {source} | {src_frames} | {dst_frames} | {diff:.1e} |')
    assert diff <= TOL and not mismatch


@pytest.mark.parametrize('config,source,frames', [
    ('configs/stan/k400_16f.py', 'configs/stan/k400.py', None),  # load_from 8 -> 16
    ('configs/stan/ava_k400init.py', 'configs/stan/k400.py', 16),  # detector: backbone.stan.
    ('configs/mugstan/zeroshot_k400.py', 'configs/mugstan/webvid_pretrain.py', 8),  # recognizer
])
def test_other_wrappers_load_resampled(config, source, frames):
    """Recognizer3D -> Recognizer3D, recognizer -> FastRCNN detector and retriever ->
    CLIPRecognizer, with frame counts that differ."""
    diff, mismatch = temporal_pos_diff(config, source, frames)
    assert diff <= TOL and not mismatch


def test_pretrained_init_cfg_loads_resampled(tiny_arch, tmp_path):
    """What ``init_cfg=dict(type='Pretrained', checkpoint=...)`` runs (mmengine's
    ``initialize`` -> ``PretrainedInit``), on a recognizer."""
    from mmaction.registry import MODELS
    from mmengine.model import initialize

    def recognizer(frames):
        return MODELS.build(dict(
            type='Recognizer3D',
            backbone=dict(type='CLIPSTAN', arch=tiny_arch, num_layers=2, num_frames=frames),
            cls_head=dict(type='VideoLinearHead', num_classes=3, in_channels=64)))

    torch.manual_seed(0)
    source = recognizer(8)
    ckpt = save(source, tmp_path / 'source.pth')
    torch.manual_seed(1)
    target = recognizer(16)
    initialize(target, dict(type='Pretrained', checkpoint=ckpt))
    assert max_diff(target.backbone.stan.temporal_pos.data,
                    source.backbone.stan.temporal_embedding(16).detach()) <= TOL


def test_frame_count_table_tool(capsys):
    tool = load_script('tools/analysis/frame_count_table.py')
    rows = tool.main(['configs/mugstan/zeroshot_didemo.py', 'configs/stan/k400.py'])
    assert [r[:4] for r in rows] == [TABLE[0]]  # k400.py loads no checkpoint: no row
    assert rows[0][4] <= TOL and rows[0][5] is False
    out = capsys.readouterr().out
    assert '| config | source config | source frames | target frames | max diff |' in out
    assert '| `configs/mugstan/zeroshot_didemo.py` | `configs/mugstan/webvid_pretrain.py` | 12 | 64 |' \
        in out
