"""The video-text retriever: losses, prediction, and DDP == one process on the full batch."""
import os

import pytest
import torch

from conftest import TINY_ARCH, free_port
from mmstan.models.losses import symmetric_infonce

#: head configs by name
HEADS = dict(mug=dict(type='MugHead', mode='mug'), mean=dict(type='MeanPHead'),
             wti=dict(type='WTIHead', embed_dim=64))


def build(head='mug'):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='VideoTextRetriever',
        clip=dict(arch=TINY_ARCH),
        backbone=dict(type='CLIPSTAN', num_frames=4, num_layers=2, drop_path_rate=0.0),
        head=HEADS[head]))


def batch(n=4):
    g = torch.Generator().manual_seed(1)
    imgs = torch.randn(n, 1, 3, 4, 32, 32, generator=g)
    text = torch.randint(1, 4000, (n, 8), generator=g)
    text[:, -1] = 49407  # end-of-text (the largest id) at the end
    text[0, 5:] = 0      # some padding before it is fine for masking tests
    text[0, 5] = 49407
    return dict(imgs=imgs, text=text)


def test_symmetric_infonce_by_hand():
    scores = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    t2v, v2t = symmetric_infonce(scores, torch.tensor(1.0))
    expected_t2v = -(torch.log_softmax(scores, 1).diag()).mean()
    expected_v2t = -(torch.log_softmax(scores.T, 1).diag()).mean()
    torch.testing.assert_close(t2v, expected_t2v)
    torch.testing.assert_close(v2t, expected_v2t)


@pytest.mark.parametrize('head', sorted(HEADS))
def test_loss_and_predict(head):
    model = build(head)
    losses = model(batch(), mode='loss')
    assert set(losses) == {'loss_t2v', 'loss_v2t'}
    sum(losses.values()).backward()
    assert model.backbone.stan.temporal_pos.grad is not None
    assert model.text_encoder.text.token_embedding.weight.grad is not None
    feats = model(batch(2), mode='predict')
    assert feats['frames'].shape == (2, 4, 64) and feats['tokens'].shape == (2, 8, 64)
    assert feats['pooled'].shape == (2, 64) and feats['mask'].dtype == torch.bool
    only_text = model(dict(text=batch(2)['text']), mode='predict')
    assert set(only_text) == {'pooled', 'tokens', 'mask'}
    assert set(model(dict(imgs=batch(2)['imgs']), mode='predict')) == {'frames'}


@pytest.mark.parametrize('head', sorted(HEADS))
def test_score_is_the_head_on_every_pair(head):
    """``score`` of separately encoded captions and videos == the model's own forward on
    each (caption, video) pair."""
    model = build(head).eval()
    data = batch(4)
    with torch.no_grad():
        scores = model.score(model.encode_text(data['text'][:3]), model.encode_video(data['imgs']))
        assert scores.shape == (3, 4)
        for i in range(3):
            for j in range(4):
                pair = dict(imgs=data['imgs'][j:j + 1], text=data['text'][i:i + 1])
                torch.testing.assert_close(scores[i, j], model(pair, mode='tensor')[0, 0])


def _ddp_worker(rank, world, port, results):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world)
    from torch.nn.parallel import DistributedDataParallel

    import mmstan  # noqa: F401
    model = build()
    ddp = DistributedDataParallel(model)
    full = batch(4)
    local = {k: v[rank * 2:(rank + 1) * 2] for k, v in full.items()}
    losses = ddp(local, mode='loss')
    loss = sum(losses.values())
    loss.backward()
    results[rank] = dict(loss=loss.detach(), grads={n: p.grad.clone() for n, p in
                                                    model.named_parameters() if p.grad is not None})
    torch.distributed.destroy_process_group()


def test_ddp_equals_single_process_on_concatenated_batch():
    import torch.multiprocessing as mp
    results = mp.Manager().dict()
    mp.spawn(_ddp_worker, args=(2, free_port(), results), nprocs=2, join=True)
    model = build()
    loss = sum(model(batch(4), mode='loss').values())
    loss.backward()
    for rank in range(2):
        assert abs(results[rank]['loss'] - loss.detach()) <= 1e-5
        grads = results[rank]['grads']
        for name, param in model.named_parameters():
            if param.grad is None:
                continue
            torch.testing.assert_close(grads[name], param.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_logit_scale_fixed_or_learned():
    fixed = build()
    assert not any('logit_scale' in n for n, _ in fixed.named_parameters())
    assert torch.isclose(fixed.log_logit_scale.exp(), torch.tensor(100.0))
    from mmaction.registry import MODELS
    learned = MODELS.build(dict(type='VideoTextRetriever',
                                clip=dict(arch=TINY_ARCH), backbone=dict(type='CLIPMeanPool'),
                                head=dict(type='MeanPHead'),
                                logit_scale=20.0, learn_logit_scale=True))
    sum(learned(batch(), mode='loss').values()).backward()
    assert learned.log_logit_scale.grad is not None
