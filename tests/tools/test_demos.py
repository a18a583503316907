"""demo/demo_recognition.py and demo/demo_retrieval.py end to end on CPU: the docs'
lines (docs/inference.md), a real video from mmaction2's test data, and the errors a user meets.

Checkpoints are tiny random models saved by the tests. Expected scores come from
mmaction2's own ``inference_recognizer`` (recognition) and from the model run on a batch
made by the config's dataset (retrieval), not from the demos' code.
"""
import os.path as osp
import re
import shlex

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from conftest import ROOT, load_script, run_tool, user_docs_text


def run_demo(module, args, capsys) -> str:
    """Run a demo's ``main`` in this process (what ``python demo/<name>.py ARGS`` runs);
    returns its stdout."""
    capsys.readouterr()
    module.main([osp.join(ROOT, a) if a.startswith('configs/') else a for a in args])
    return capsys.readouterr().out

demo_recognition = load_script('demo/demo_recognition.py')
demo_retrieval = load_script('demo/demo_retrieval.py')

RECOGNITION = 'configs/demo/synthetic_motion_stan.py'
RETRIEVAL = 'configs/demo/synthetic_motion_retrieval.py'
CLASSES = ['moving left', 'moving right', 'moving up', 'moving down']


def random_checkpoint(config: str, path, seed: int = 0) -> str:
    """A checkpoint of ``config``'s model with random weights, as tools/train.py saves it."""
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, config)).model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))  # move off the zero-initialised projections
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, str(path))
    return str(path)


@pytest.fixture(scope='module')
def recognition_ckpt(tmp_path_factory):
    return random_checkpoint(RECOGNITION, tmp_path_factory.mktemp('rec') / 'epoch_12.pth')


@pytest.fixture(scope='module')
def retrieval_ckpt(tmp_path_factory):
    return random_checkpoint(RETRIEVAL, tmp_path_factory.mktemp('ret') / 'epoch_6.pth', seed=1)


def readme_demo_lines():
    """The command lines of README.md and docs/*.md that run these two demos."""
    lines = [line.strip() for line in user_docs_text().splitlines()]
    return [line for line in lines
            if line.startswith(('python demo/demo_recognition.py ', 'python demo/demo_retrieval.py '))]


def ranked(stdout: str):
    """``[(text, score)]`` of the demos' ``N. ...`` lines, in printed order."""
    rows = []
    for line in stdout.splitlines():
        named = re.match(r'\d+\. (.+): (-?[\d.]+)$', line)  # recognition: "1. name: score"
        scored = re.match(r'\d+\. (-?[\d.]+)  (.+)$', line)  # retrieval: "1. score  text"
        if named:
            rows.append((named.group(1), float(named.group(2))))
        elif scored:
            rows.append((scored.group(2), float(scored.group(1))))
    return rows


def mmaction_scores(config: str, ckpt: str, video: str, cfg_options=None) -> torch.Tensor:
    """Class scores from mmaction2's own API (init_recognizer + inference_recognizer)."""
    from mmaction.apis import inference_recognizer, init_recognizer
    from mmengine.dataset import Compose

    cfg = Config.fromfile(osp.join(ROOT, config) if not osp.isabs(config) else config)
    cfg.merge_from_dict(cfg_options or {})
    model = init_recognizer(cfg, ckpt, device='cpu')
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    return inference_recognizer(model, video, test_pipeline=pipeline).pred_score


def test_readme_has_both_demos():
    lines = readme_demo_lines()
    assert any(line.startswith('python demo/demo_recognition.py ') for line in lines)
    assert any(line.startswith('python demo/demo_retrieval.py ') and '--videos' not in line for line in lines)
    assert any(line.startswith('python demo/demo_retrieval.py ') and '--videos' in line for line in lines)


@pytest.mark.slow
def test_readme_lines_run(synthetic_motion, recognition_ckpt, retrieval_ckpt):
    """Each README line runs as written, with the checkpoint a test-made one of the same
    config and ``data/synthetic_motion`` the test's copy of the generated set."""
    for line in readme_demo_lines():
        args = shlex.split(line)[1:]
        ckpt = recognition_ckpt if 'demo_recognition' in args[0] else retrieval_ckpt
        args = [ckpt if a.endswith('.pth') else a.replace('data/synthetic_motion', synthetic_motion)
                for a in args]
        proc = run_tool(args)
        assert proc.returncode == 0, (line, proc.stderr[-3000:])
        rows = ranked(proc.stdout)
        assert rows, (line, proc.stdout)
        scores = [s for _, s in rows]
        assert scores == sorted(scores, reverse=True), proc.stdout


def test_recognition_demo_matches_mmaction2(synthetic_motion, recognition_ckpt, tmp_path, capsys):
    video = osp.join(synthetic_motion, 'videos', 'val', '00000.mp4')
    labels = tmp_path / 'classes.txt'
    labels.write_text('\n'.join(CLASSES) + '\n')
    rows = ranked(run_demo(demo_recognition, [RECOGNITION, recognition_ckpt, video,
                                              '--label-map', str(labels)], capsys))
    expected = mmaction_scores(RECOGNITION, recognition_ckpt, video)
    order = expected.argsort(descending=True).tolist()
    assert [name for name, _ in rows] == [CLASSES[i] for i in order]  # 4 classes: all shown
    assert [s for _, s in rows] == pytest.approx(expected[order].tolist(), abs=1e-4)


def test_recognition_demo_on_a_real_video(shared_data, tmp_path, capsys):
    """mmaction2's test.mp4 (340x256, real H.264) through a config that resizes to the
    tiny model; the K400 label map from mmaction2 gives the names (top-5 of 400)."""
    config = tmp_path / 'real_video.py'
    config.write_text(
        f"_base_ = [{osp.join(ROOT, RECOGNITION)!r}]\n"
        "model = dict(cls_head=dict(num_classes=400))\n"
        "test_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='DecordInit'), dict(type='UniformSample', clip_len=8, test_mode=True),\n"
        "    dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 36)),\n"
        "    dict(type='CenterCrop', crop_size=32), dict(type='FormatShape', input_format='NCTHW'),\n"
        "    dict(type='PackActionInputs')]))\n")
    ckpt = random_checkpoint(str(config), tmp_path / 'k400_tiny.pth')
    video = osp.join(shared_data, 'test.mp4')
    label_map = osp.join(shared_data, 'label_maps', 'k400.txt')
    rows = ranked(run_demo(demo_recognition, [str(config), ckpt, video, '--label-map', label_map], capsys))
    expected = mmaction_scores(str(config), ckpt, video)
    top = expected.topk(5)
    with open(label_map) as f:
        names = [line.strip() for line in f if line.strip()]
    assert [name for name, _ in rows] == [names[i] for i in top.indices.tolist()]
    assert [s for _, s in rows] == pytest.approx(top.values.tolist(), abs=1e-4)


def retrieval_scores(synthetic_motion, ckpt, videos, captions) -> torch.Tensor:
    """``[captions, videos]`` scores of the checkpoint's model: the videos as the config's
    test dataset loads them, the captions tokenized by open_clip, both through the model's
    batch forward (``mode='tensor'``, the head on the whole batch)."""
    import json

    import open_clip
    from mmaction.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(osp.join(ROOT, RETRIEVAL))
    ann = osp.join(osp.dirname(ckpt), 'ann.json')
    with open(ann, 'w') as f:
        json.dump({osp.relpath(v, osp.join(synthetic_motion, 'videos')): [c] for v, c in
                   zip(videos, captions)}, f)
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, ann_file=ann, data_root=synthetic_motion))
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(videos))]), False)
    batch['inputs']['text'] = open_clip.tokenize(captions, context_length=cfg.context_length)
    with torch.no_grad():
        return model(**batch, mode='tensor')  # [texts, videos]


def test_retrieval_demo_ranks_captions_and_videos(synthetic_motion, retrieval_ckpt, capsys):
    videos = [osp.join(synthetic_motion, 'videos', 'val', f'{i:05d}.mp4') for i in range(3)]
    captions = ['a red square moving left', 'a blue circle moving up', 'a green circle moving down']
    expected = retrieval_scores(synthetic_motion, retrieval_ckpt, videos, captions)

    rows = ranked(run_demo(demo_retrieval, [RETRIEVAL, retrieval_ckpt, videos[1], '--text', *captions],
                           capsys))
    order = expected[:, 1].argsort(descending=True).tolist()
    assert [text for text, _ in rows] == [captions[i] for i in order]
    assert [s for _, s in rows] == pytest.approx(expected[order, 1].tolist(), abs=1e-4)

    rows = ranked(run_demo(demo_retrieval, [RETRIEVAL, retrieval_ckpt, '--videos', *videos,
                                            '--text', captions[2]], capsys))
    order = expected[2].argsort(descending=True).tolist()
    assert [v for v, _ in rows] == [videos[i] for i in order]
    assert [s for _, s in rows] == pytest.approx(expected[2, order].tolist(), abs=1e-4)


def test_demo_errors_are_one_line(synthetic_motion, recognition_ckpt, retrieval_ckpt, tmp_path, capsys):
    video = osp.join(synthetic_motion, 'videos', 'val', '00000.mp4')
    official = tmp_path / 'official.pth'
    torch.save({'backbone.class_embedding': torch.zeros(64)}, official)
    cases = [
        (demo_recognition, [RECOGNITION, str(tmp_path / 'none.pth'), video], 'none.pth'),
        (demo_recognition, [RECOGNITION, recognition_ckpt, str(tmp_path / 'x.mp4')], 'x.mp4'),
        (demo_recognition, [RECOGNITION, retrieval_ckpt, video], 'right config'),
        (demo_recognition, [RECOGNITION, str(official), video], 'tools/model_converters'),
        (demo_retrieval, [RECOGNITION, recognition_ckpt, video, '--text', 'a'], 'demo_recognition'),
    ]
    for module, args, needle in cases:
        with pytest.raises(SystemExit) as exit_info:
            run_demo(module, args, capsys)
        assert exit_info.value.code == 1, args
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error:')]
        assert len(errors) == 1 and needle in errors[0], (args, errors)
    # the one subprocess: the script itself exits with status 1 and one error line
    proc = run_tool(['demo/demo_recognition.py', RECOGNITION, str(tmp_path / 'none.pth'), video])
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith('error:')] == [
        f'error: checkpoint not found: {tmp_path / "none.pth"}; give a checkpoint file or an http(s) URL']


def test_zero_shot_demo_scores_the_label_map_names(synthetic_motion, tmp_path, capsys):
    """The zero-shot config with one retriever checkpoint: ``--label-map`` names are
    encoded by that checkpoint's text tower and scored (mmaction2's inference_recognizer
    on the same config with those names set gives the same scores)."""
    from mmengine.registry import init_default_scope

    from conftest import TINY_ARCH

    config = tmp_path / 'zeroshot_tiny.py'
    config.write_text(
        f"_base_ = [{osp.join(ROOT, 'configs/mugstan/zeroshot_k400.py')!r}]\n"
        f"model = dict(clip=dict(arch=dict(_delete_=True, **{TINY_ARCH!r})),\n"
        "             backbone=dict(input_resolution=32, num_layers=2), cls_head=dict(classes=['x']))\n"
        "test_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='DecordInit'), dict(type='UniformSample', clip_len=8, test_mode=True),\n"
        "    dict(type='DecordDecode'), dict(type='FormatShape', input_format='NCTHW'),\n"
        "    dict(type='PackActionInputs')]))\n")
    init_default_scope('mmaction')
    torch.manual_seed(0)
    retriever = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=TINY_ARCH),
                                  backbone=dict(type='CLIPSTAN', input_resolution=32, num_layers=2,
                                                num_frames=12)))
    ckpt = str(tmp_path / 'retriever.pth')
    save_checkpoint({'state_dict': retriever.state_dict()}, ckpt)
    labels = tmp_path / 'names.txt'
    labels.write_text('\n'.join(CLASSES) + '\n')
    video = osp.join(synthetic_motion, 'videos', 'val', '00002.mp4')
    rows = ranked(run_demo(demo_recognition, [str(config), ckpt, video, '--label-map', str(labels)], capsys))
    expected = mmaction_scores(str(config), ckpt, video, dict(model=dict(cls_head=dict(classes=CLASSES))))
    order = expected.argsort(descending=True).tolist()
    assert [name for name, _ in rows] == [CLASSES[i] for i in order]
    assert [s for _, s in rows] == pytest.approx(expected[order].tolist(), abs=1e-4)


def readme_python_api() -> str:
    """The README's Python example (the python block that calls ``mmstan.apis``'
    ``encode_videos``)."""
    blocks = re.findall(r'```python\n(.*?)```', user_docs_text(), flags=re.S)
    snippets = [b for b in blocks if 'encode_videos(model' in b]
    assert len(snippets) == 1, 'README.md + docs/: one python block with the encode/score example'
    return snippets[0]


def test_readme_python_api_ranks_captions(synthetic_motion, retrieval_ckpt, capsys):
    """The README's Python example runs as written, with its config, checkpoint and video
    set to the tiny retrieval config, a test-made checkpoint and a synthetic clip; it
    prints the captions in the order, and with the scores, of the model's batch forward."""
    from mmstan.utils.cli import default_work_dir

    code = readme_python_api()
    names = dict(re.findall(r"^(config|checkpoint|video) = '([^']+)'", code, flags=re.M))
    assert set(names) == {'config', 'checkpoint', 'video'}, names
    # its checkpoint is where `tools/train.py CONFIG` leaves the last epoch
    last_epoch = Config.fromfile(osp.join(ROOT, names['config'])).train_cfg.max_epochs
    assert osp.normpath(names['checkpoint']) == osp.normpath(
        osp.join(default_work_dir(osp.join(ROOT, names['config'])), f'epoch_{last_epoch}.pth'))

    video = osp.join(synthetic_motion, 'videos', 'val', '00001.mp4')
    for name, value in (('config', osp.join(ROOT, RETRIEVAL)), ('checkpoint', retrieval_ckpt),
                        ('video', video)):
        code = re.sub(rf"^{name} = '[^']+'", f'{name} = {value!r}', code, count=1, flags=re.M)
    namespace = {}
    capsys.readouterr()
    exec(compile(code, 'README.md (Python example)', 'exec'), namespace)
    rows = [re.match(r'(-?[\d.]+)  (.+)$', line).groups() for line in capsys.readouterr().out.splitlines()]
    captions = namespace['captions']
    assert len(captions) == len(rows) == 3
    expected = retrieval_scores(synthetic_motion, retrieval_ckpt, [video], captions)[:, 0]
    order = expected.argsort(descending=True).tolist()
    assert [text for _, text in rows] == [captions[i] for i in order]
    assert [float(score) for score, _ in rows] == pytest.approx(expected[order].tolist(), abs=1e-4)
