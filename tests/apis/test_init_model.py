"""mmstan.apis: ``init_model`` on the tiny retrieval config and a checkpoint saved the way
``tools/train.py`` saves one (path, DDP-wrapped, or by URL from a local HTTP server), the
one-line error for a checkpoint that does not fit, and the encode / score calls against
the model's own batch forward."""
import functools
import hashlib
import http.server
import json
import os.path as osp
import threading

import open_clip
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import save_checkpoint

from conftest import ROOT
from mmstan.apis import encode_texts, encode_videos, init_model, read_checkpoint, score
from mmstan.errors import UserError

CONFIG = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
CAPTIONS = ['a red square moving left', 'a blue circle moving up', 'a green circle moving down']


def trained_model(seed: int = 0):
    """The config's model after a few optimizer steps on random clips and captions (so
    that no weight is at its initial value, the logit scale included)."""
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')  # module fixtures run before conftest's mmaction_scope
    torch.manual_seed(seed)
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        imgs = torch.randn(4, 3, 8, 32, 32)
        text = open_clip.tokenize(CAPTIONS + ['a circle'], context_length=cfg.context_length)
        losses = model(dict(imgs=imgs, text=text), mode='loss')
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """``(trained model, checkpoint path)``: an mmengine checkpoint, as tools/train.py
    writes it (``state_dict`` + ``meta``)."""
    model = trained_model()
    path = str(tmp_path_factory.mktemp('ckpt') / 'epoch_6.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 6}}, path)
    return model, path


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@torch.no_grad()
def scores_of(model, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    imgs = torch.randn(3, 3, 8, 32, 32)
    text = open_clip.tokenize(CAPTIONS, context_length=16)
    return model.score(model.encode_text(text), model.encode_video(imgs))


def test_init_model_gives_the_trained_weights_and_scores(trained):
    model, ckpt = trained
    loaded = init_model(CONFIG, ckpt)
    assert not loaded.training and isinstance(loaded.cfg, Config)
    assert loaded.cfg.filename == CONFIG
    assert_same_weights(model, loaded)
    torch.testing.assert_close(scores_of(loaded), scores_of(model), rtol=0, atol=0)
    # a Config works too, is left as it was, and cfg_options apply to the model's copy
    cfg = Config.fromfile(CONFIG)
    before = cfg.model.to_dict()
    loaded = init_model(cfg, ckpt, cfg_options={'model.logit_scale': 5.0})
    assert cfg.model.to_dict() == before
    assert loaded.cfg.model.logit_scale == 5.0


def test_the_checkpoint_s_weights_replace_pretrained_clip(trained, tmp_path):
    """With a checkpoint, the config's pretrained CLIP is neither read nor downloaded (a
    missing file, an unreachable URL); without one, it is."""
    model, ckpt = trained
    for pretrained in (str(tmp_path / 'no_clip.pt'), 'http://127.0.0.1:9/ViT-B-32.pt'):
        loaded = init_model(CONFIG, ckpt, cfg_options={'model.clip.pretrained': pretrained})
        assert_same_weights(model, loaded)
    with pytest.raises(UserError, match='weights file not found: .*no_clip.pt'):
        init_model(CONFIG, cfg_options={'model.clip.pretrained': str(tmp_path / 'no_clip.pt')})


def test_wrapped_and_bare_checkpoints_read_alike(trained, tmp_path):
    """A DDP-saved ``module.`` prefix and a bare state dict load the same weights."""
    model, _ = trained
    ddp = str(tmp_path / 'ddp.pth')
    torch.save({'state_dict': {f'module.{k}': v for k, v in model.state_dict().items()}}, ddp)
    bare = str(tmp_path / 'bare.pth')
    torch.save(model.state_dict(), bare)
    assert read_checkpoint(ddp).keys() == read_checkpoint(bare).keys() == model.state_dict().keys()
    for path in (ddp, bare):
        assert_same_weights(model, init_model(CONFIG, path))


def one_line_error(*args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        init_model(*args, **kwargs)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_a_checkpoint_that_does_not_fit_is_one_error(trained, tmp_path):
    model, _ = trained
    state = dict(model.state_dict())
    del state['backbone.stan.layers.0.temporal.proj.weight']
    state['head.extra.weight'] = torch.zeros(3)
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': state}, path)
    message = one_line_error(CONFIG, path)
    assert message.startswith(f'{path} does not match the model of {CONFIG}')
    assert '1 weights missing (backbone.stan.layers.0.temporal.proj.weight)' in message
    assert '1 unexpected (head.extra.weight)' in message
    assert 'right config' in message

    shaped = dict(model.state_dict())
    shaped['backbone.stan.layers.0.temporal.proj.weight'] = torch.zeros(3, 3)
    torch.save({'state_dict': shaped}, path)
    assert 'backbone.stan.layers.0.temporal.proj.weight [3, 3] vs [64, 64]' in one_line_error(CONFIG, path)

    torch.save({'backbone.class_embedding': torch.zeros(64)}, path)  # e.g. an official file
    message = one_line_error(CONFIG, path)
    assert 'none of its 1 weights belong to it' in message and 'tools/model_converters' in message

    assert one_line_error(CONFIG, str(tmp_path / 'none.pth')) == (
        f'checkpoint not found: {tmp_path / "none.pth"}; give a checkpoint file or an http(s) URL')


@pytest.fixture
def server(tmp_path, monkeypatch):
    """``(base_url, served_dir)`` of a local HTTP server; TORCH_HOME in ``tmp_path``."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    www = tmp_path / 'www'
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', www
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_init_model_from_a_url(trained, server):
    model, ckpt = trained
    base, www = server
    payload = open(ckpt, 'rb').read()
    digest = hashlib.sha256(payload).hexdigest()
    (www / f'retriever-{digest[:8]}.pth').write_bytes(payload)  # hash in the name, OpenMMLab style
    (www / 'plain.pth').write_bytes(payload)
    assert_same_weights(model, init_model(CONFIG, f'{base}/retriever-{digest[:8]}.pth'))
    assert_same_weights(model, init_model(CONFIG, f'{base}/plain.pth#sha256={digest}'))
    (www / 'tampered.pth').write_bytes(payload[:-1] + bytes([payload[-1] ^ 0xFF]))
    assert 'checksum mismatch' in one_line_error(CONFIG, f'{base}/tampered.pth#sha256={digest[:16]}')


def batch_scores(model, synthetic_motion, videos, captions, tmp_path) -> torch.Tensor:
    """``[captions, videos]`` from the model's batch forward (``mode='tensor'``): the videos
    as the config's test dataset loads them, the captions tokenized by open_clip."""
    cfg = Config.fromfile(CONFIG)
    ann = str(tmp_path / 'ann.json')
    with open(ann, 'w') as f:
        json.dump({osp.relpath(v, osp.join(synthetic_motion, 'videos')): [c]
                   for v, c in zip(videos, captions)}, f)
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, ann_file=ann, data_root=synthetic_motion))
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(videos))]), False)
    batch['inputs']['text'] = open_clip.tokenize(captions, context_length=cfg.context_length)
    with torch.no_grad():
        return model(**batch, mode='tensor')


def test_encode_and_score_equal_the_model_s_batch_forward(trained, synthetic_motion, tmp_path):
    model, ckpt = trained
    loaded = init_model(CONFIG, ckpt)
    videos = [osp.join(synthetic_motion, 'videos', 'val', f'{i:05d}.mp4') for i in range(3)]
    frames = encode_videos(loaded, videos, batch_size=2)  # two batches
    pooled, tokens, mask = encode_texts(loaded, CAPTIONS)
    assert frames.shape == (3, 8, 64) and pooled.shape == (3, 64) and tokens.shape[:2] == mask.shape
    scores = score(loaded, (pooled, tokens, mask), frames)
    expected = batch_scores(model, synthetic_motion, videos, CAPTIONS, tmp_path)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    # one caption against the three videos: the same row
    torch.testing.assert_close(score(loaded, encode_texts(loaded, CAPTIONS[1:2]), frames), scores[1:2])


def test_the_retrieval_calls_refuse_a_recognizer():
    recognizer = init_model(osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_stan.py'))
    with pytest.raises(UserError, match='not a video-text retrieval model'):
        encode_texts(recognizer, ['a caption'])
