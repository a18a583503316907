"""Test-time retrieval loops on generated MSVD-shaped sets: each video encoded once, metrics
equal to a brute-force per-pair ranking, 2 processes == 1, a learned head scores with its
learned weights."""
import copy
import os
import os.path as osp
import pickle
import re
import statistics
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, free_port, run_tool
from mmstan.datasets.synthetic import write_synthetic_retrieval
from mmstan.engine.retrieval_loop import shard
from mmstan.evaluation.retrieval_metric import retrieval_metrics

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
METRIC_KEYS = [f'retrieval/{d}/{m}' for d in ('t2v', 'v2t')
               for m in ('R1', 'R5', 'R10', 'MdR', 'MnR')]


def make_set(out, num_test, captions, num_train=8):
    write_synthetic_retrieval(str(out), num_train=num_train, num_test=num_test, captions=captions)
    return str(out)


@pytest.fixture(scope='module')
def msvd_shaped(tmp_path_factory):
    """30 test videos x 10 captions (MSVD's shape, smaller)."""
    return make_set(tmp_path_factory.mktemp('msvd_shaped'), 30, 10)


@pytest.fixture(scope='module')
def one_caption(tmp_path_factory):
    """12 test videos x 1 caption (MSR-VTT 1k-A / LSMDC shape)."""
    return make_set(tmp_path_factory.mktemp('one_caption'), 12, 1)


def options(root, batch=8, text_batch=16) -> dict:
    """Config overrides for the demo config on a generated set."""
    opts = {'test_cfg.text_batch_size': text_batch, 'val_cfg.text_batch_size': text_batch,
            'train_dataloader.dataset.ann_file': 'train.json'}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.dataset.data_root': root, f'{loader}.batch_size': batch,
                     f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    opts.update({f'{loader}.dataset.ann_file': 'test.json'
                 for loader in ('val_dataloader', 'test_dataloader')})
    return opts


def cli_options(opts: dict) -> list:
    return [f'{k}={v}' for k, v in opts.items()]


def demo_config(root, work_dir, **changes):
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(options(root))
    cfg.merge_from_dict(copy.deepcopy(changes))  # merging consumes `_delete_`
    cfg.work_dir = str(work_dir)
    return cfg


def runner_for(cfg):
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


def test_shard_covers_every_item_evenly():
    for n in (0, 1, 5, 6, 7):
        parts = [shard(n, r, 3) for r in range(3)]
        assert len({len(p) for p in parts}) <= 1
        assert sorted(set(sum(parts, []))) == list(range(n))
        assert sum(parts, []) == [] or len(sum(parts, [])) == 3 * -(-n // 3)


def test_padding_of_the_split_never_reaches_the_metric(monkeypatch):
    """5 captions over 2 ranks, 2 per batch: rank 1's share [1, 3, 0] is padded with
    caption 0. Both ranks score two batches (their blocks pair up when collected), but
    the padding's row is not handed over: every caption reaches the metric once."""
    from types import SimpleNamespace

    from mmstan.engine import retrieval_loop
    from mmstan.evaluation import TextVideoRetrievalMetric

    class Model:  # caption i's score with every video is i
        def test_step(self, batch):
            ids = torch.tensor(batch, dtype=torch.float32)
            return dict(pooled=ids[:, None], tokens=ids[:, None, None], mask=torch.ones(len(ids), 1))

        def score(self, text, gallery):
            return text[0].expand(-1, len(gallery))

    blocks, sizes = [], []
    loop = object.__new__(retrieval_loop.VideoTextRetrievalTestLoop)
    loop._runner, loop.fp16 = SimpleNamespace(model=Model()), False  # BaseLoop.runner reads _runner
    loop.evaluator = SimpleNamespace(process=lambda samples, batch: blocks.extend(samples))
    loop.text_batch_size, loop.text_num_workers = 2, 0
    monkeypatch.setattr(retrieval_loop, 'get_world_size', lambda: 2)
    for rank in (0, 1):
        monkeypatch.setattr(retrieval_loop, 'get_rank', lambda rank=rank: rank)
        sizes.append(loop.score_captions(list(range(5)), torch.zeros(3, 1), [0, 0, 1, 1, 2]))
    assert sizes == [4, 4] and len(blocks) == 4
    assert [b['caption_index'].tolist() for b in blocks] == [[0, 2], [4], [1, 3], []]
    for b in blocks:
        assert torch.equal(b['scores'][:, 0], b['caption_index'].float())
    metric = TextVideoRetrievalMetric()
    metric.expect_totals(captions=5, videos=3)
    metric.process(None, blocks)
    sim, owner, _ = metric.assemble(metric.results, metric.expected)
    assert torch.equal(sim[:, 0], torch.arange(5.0)) and owner.tolist() == [0, 0, 1, 1, 2]


def test_each_video_encoded_once(msvd_shaped, tmp_path):
    """30 videos x 10 captions: 30 videos through the backbone, 300 captions through the
    text tower, once each."""
    runner = runner_for(demo_config(msvd_shaped, tmp_path))
    model = runner.model
    videos, video_calls, captions = [], [], []
    model.backbone.register_forward_hook(lambda m, args, out: videos.append(args[0].shape[0]))
    model.backbone.register_forward_hook(lambda m, args, out: video_calls.append(1))
    model.text_encoder.register_forward_hook(lambda m, args, out: captions.append(args[0].shape[0]))
    metrics = runner.test()
    assert sum(videos) == 30 and len(video_calls) == -(-30 // 8)  # batches of 8 videos
    assert sum(captions) == 300
    assert set(METRIC_KEYS) <= set(metrics)
    assert 0 <= metrics['retrieval/t2v/R1'] <= 100


def test_qb_norm_query_bank_is_the_training_captions(msvd_shaped, tmp_path):
    """With post_process='qb_norm', the loop also encodes the dataset's query bank (captions
    of train.json, evenly subsampled) and hands the evaluator their scores with every test
    video; the metric normalises with them."""
    import json

    from mmstan.evaluation.retrieval_metric import retrieval_metrics
    cfg = demo_config(msvd_shaped, tmp_path, test_dataloader=dict(dataset=dict(
        query_bank=dict(ann_file='train.json', max_captions=20))))
    cfg.test_evaluator = [dict(type='TextVideoRetrievalMetric', post_process='qb_norm'),
                          dict(type='DumpResults', out_file_path=str(tmp_path / 'blocks.pkl'))]
    runner = runner_for(cfg)
    captions = []
    runner.model.text_encoder.register_forward_hook(lambda m, a, o: captions.append(a[0].shape[0]))
    metrics = runner.test()
    assert sum(captions) == 300 + 20
    from mmstan.evaluation import TextVideoRetrievalMetric
    with open(tmp_path / 'blocks.pkl', 'rb') as f:
        sim, owner, bank = TextVideoRetrievalMetric.assemble(pickle.load(f))
    train = [c for caps in json.load(open(osp.join(msvd_shaped, 'train.json'))).values() for c in caps]
    picked = [train[int(i * len(train) / 20)] for i in range(20)]
    model, dataset = runner.model.eval(), runner.test_dataloader.dataset
    from mmengine.dataset import pseudo_collate
    with torch.no_grad():
        frames = model.test_step(pseudo_collate([dataset[i] for i in range(len(dataset))]))['frames']
        text = model.test_step(pseudo_collate(list(dataset.caption_dataset(picked))))
        expected_bank = model.score((text['pooled'], text['tokens'], text['mask']), frames)
    torch.testing.assert_close(bank, expected_bank)
    expected = retrieval_metrics(sim, owner, 'qb_norm', expected_bank)
    assert {k: metrics[f'retrieval/{k}'] for k in expected} == pytest.approx(expected)


def _brute_force_metrics(scores, owner_of_caption):
    """R@1/5/10, MdR, MnR of a ``scores[caption][video]`` table by sorting each query's
    list: rank = 1 + number of wrong items scored at least as high as the best right one."""
    def summary(queries):
        ranks = []
        for row, right in queries:
            best = max(row[j] for j in right)
            ranks.append(1 + sum(1 for j, s in enumerate(row) if j not in right and s >= best))
        return [100 * sum(r <= k for r in ranks) / len(ranks) for k in (1, 5, 10)] + [
            statistics.median(ranks), statistics.mean(ranks)]

    num_videos = len(scores[0])
    t2v = summary([(row, {owner_of_caption[i]}) for i, row in enumerate(scores)])
    columns = [[row[v] for row in scores] for v in range(num_videos)]
    v2t = summary([(col, {i for i, o in enumerate(owner_of_caption) if o == v})
                   for v, col in enumerate(columns)])
    return dict(zip(METRIC_KEYS, t2v + v2t))


@pytest.mark.parametrize('head', [None, pytest.param(dict(type='MeanPHead'), marks=pytest.mark.slow),
                                  pytest.param(dict(type='WTIHead', embed_dim=64, drop_sot=True),
                                               marks=pytest.mark.slow)],
                         ids=['mug', 'mean', 'wti'])
def test_metrics_equal_brute_force_per_pair_path(one_caption, tmp_path, head):
    """One caption per video: the loop's metrics == ranking the scores that the model's
    forward gives every (caption, video) pair on its own (today's per-pair path: the
    video decoded and encoded with each caption)."""
    from mmengine.dataset import pseudo_collate
    changes = {} if head is None else dict(model=dict(head=dict(head, _delete_=True)))
    runner = runner_for(demo_config(one_caption, tmp_path, **changes))
    metrics = runner.test()
    model, dataset = runner.model.eval(), runner.test_dataloader.dataset
    captions, owner = dataset.caption_list()
    assert owner == list(range(12))
    texts = [item['inputs']['text'] for item in dataset.caption_dataset(captions)]
    videos = [dataset[j] for j in range(len(dataset))]  # decoded once here, encoded per pair below
    table = []
    with torch.no_grad():
        for text in texts:
            row = []
            for video in videos:
                pair = pseudo_collate([dict(inputs=dict(imgs=video['inputs']['imgs'], text=text),
                                            data_samples=video['data_samples'])])
                inputs = model.data_preprocessor(pair)['inputs']
                row.append(model(inputs, mode='tensor')[0, 0].item())
            table.append(row)
    expected = _brute_force_metrics(table, owner)
    for key in METRIC_KEYS:
        assert metrics[key] == pytest.approx(expected[key], abs=1e-6), key


def _metrics_from_log(text):
    found = {k: re.findall(re.escape(k) + r': ([0-9.]+)', text) for k in METRIC_KEYS}
    assert all(found.values()), text[-3000:]
    return {k: v[-1] for k, v in found.items()}


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    """tools/dist_test.sh with 2 CPU processes (gloo) == tools/test.py: the same score
    matrix and caption owners, on a set whose videos (15) and captions (45) do not split
    evenly, and each run's logged metrics are the metrics of its own matrix.

    The logged metrics are not compared across the runs: the synthetic set repeats
    captions, whose scores tie exactly in one run and differ in the last bit in the
    other (captions are encoded in other batches), and a tie counts against the query."""
    from mmaction.registry import MODELS
    root = make_set(tmp_path / 'data', 15, 3)
    cfg = Config.fromfile(DEMO)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), ckpt)
    opts = cli_options(options(root, batch=4, text_batch=4))
    results = {}
    for procs in (1, 2):
        work, dump = str(tmp_path / f'work{procs}'), str(tmp_path / f'scores{procs}.pkl')
        if procs == 1:
            proc = run_tool(['tools/test.py', DEMO, ckpt, '--work-dir', work, '--dump', dump,
                             '--cfg-options', *opts])
        else:
            env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
                       PORT=str(free_port()))
            proc = subprocess.run(['bash', 'tools/dist_test.sh', DEMO, ckpt, '2', '--work-dir', work,
                                   '--dump', dump, '--cfg-options', *opts],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f'scoring 45 captions against them ({procs} process(es))' in proc.stdout + proc.stderr
        with open(dump, 'rb') as f:
            blocks = pickle.load(f)
        from mmstan.evaluation import TextVideoRetrievalMetric
        sim, owner, _ = TextVideoRetrievalMetric.assemble(blocks)
        logged = _metrics_from_log(proc.stdout + proc.stderr)
        own = {f'retrieval/{k}': f'{v:.4f}' for k, v in retrieval_metrics(sim, owner).items()}
        assert {k: logged[k] for k in own if k in logged} == {k: own[k] for k in logged}, procs
        results[procs] = (logged, sim, owner)
    assert results[1][1].shape == (45, 15)
    torch.testing.assert_close(results[1][1], results[2][1])
    assert torch.equal(results[1][2], results[2][2])


@pytest.mark.slow
def test_learned_wti_head_scores_with_its_learned_weights(msvd_shaped, tmp_path):
    """Train a `wti` retriever 2 iterations (validating with the retrieval loop, best
    checkpoint by t2v R@1), test it, then change only its learned token weights in the
    checkpoint: the metrics change (the model's head scores, not a rebuilt copy)."""
    wti = dict(model=dict(head=dict(_delete_=True, type='WTIHead', embed_dim=64, drop_sot=True)),
               param_scheduler=[],
               train_cfg=dict(max_epochs=1), train_dataloader=dict(batch_size=40))
    work = tmp_path / 'train'
    runner = runner_for(demo_config(msvd_shaped, work, **wti))
    before = {k: v.clone() for k, v in runner.model.head.state_dict().items()}
    runner.train()
    assert runner.train_loop.iter == 2  # 8 videos x 10 captions, 40 per batch
    best = [f for f in os.listdir(work) if f.startswith('best_retrieval_t2v_R1')]
    assert best, os.listdir(work)
    ckpt = torch.load(osp.join(work, best[0]), map_location='cpu', weights_only=False)
    head = {k[len('head.'):]: v for k, v in ckpt['state_dict'].items() if k.startswith('head.')}
    assert any(not torch.equal(head[k], before[k]) for k in before)  # learned, not initial

    def test_metrics(state_dict, name):
        path = str(tmp_path / name)
        torch.save(dict(state_dict=state_dict, meta={}), path)
        cfg = demo_config(msvd_shaped, tmp_path / f'test_{name}', **wti)
        cfg.load_from = path
        return runner_for(cfg).test()

    learned = test_metrics(ckpt['state_dict'], 'learned.pth')
    changed = dict(ckpt['state_dict'])
    g = torch.Generator().manual_seed(0)
    for key in ('head.text_weight.2.weight', 'head.video_weight.2.weight'):
        changed[key] = 20 * torch.randn(changed[key].shape, generator=g)
    other = test_metrics(changed, 'changed.pth')
    assert {k: learned[k] for k in METRIC_KEYS} != {k: other[k] for k in METRIC_KEYS}
