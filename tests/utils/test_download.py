"""Checkpoints by URL: verified download into torch's hub cache, refusal of tampered or
incomplete files, the offline error, and every mmengine entry point that mmstan routes
through it (``mmstan:`` URLs in CheckpointLoader, ``init_cfg=Pretrained``, the Runner's
``load_from``; ``tools/test.py CONFIG URL``).

A local ``http.server`` on 127.0.0.1 serves the files; ``TORCH_HOME`` is a temporary
directory. Expected hashes come from :mod:`hashlib`, not from the code under test.
"""
import functools
import hashlib
import http.server
import io
import os
import os.path as osp
import socket
import threading

import pytest
import torch

from conftest import ROOT, run_tool
from mmstan.errors import UserError
from mmstan.utils.download import fetch_checkpoint, hash_from_filename, load_checkpoint_file

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_meanpool.py')


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; ``/short/NAME`` announces more bytes than it sends."""

    requests: list = []

    def do_GET(self):
        type(self).requests.append(self.path)
        if self.path.startswith('/short/'):
            body = b'x' * 1000
            self.send_response(200)
            self.send_header('Content-Length', str(len(body) + 5000))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    return home


@pytest.fixture
def cache(torch_home):
    return torch_home / 'hub' / 'checkpoints'


@pytest.fixture
def server(tmp_path):
    """``(base_url, served_dir, request_log)`` of a bounded local HTTP server."""
    www = tmp_path / 'www'
    www.mkdir()
    handler = type('Handler', (_Handler,), {'requests': []})
    httpd = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(handler, directory=str(www)))
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05),
                              daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', www, handler.requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def checkpoint_bytes(state_dict: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(dict(meta=dict(epoch=1), state_dict=state_dict), buffer)
    return buffer.getvalue()


def publish(www, stem: str, payload: bytes, hashed: bool = True) -> str:
    """Write ``payload`` as ``stem-<sha256[:8]>.pth`` (OpenMMLab naming); returns the name."""
    name = f'{stem}-{hashlib.sha256(payload).hexdigest()[:8]}.pth' if hashed else f'{stem}.pth'
    (www / name).write_bytes(payload)
    return name


def tiny_state() -> dict:
    return {'w': torch.arange(2000, dtype=torch.float32).reshape(40, 50), 'b': torch.ones(3)}


def test_hash_from_filename():
    # names of published OpenMMLab / torchvision checkpoints
    assert hash_from_filename('clip4clip_vit-base-p32-res224-clip-pre_8xb16-u12-5e_msrvtt-9k-rgb_'
                              '20230612-b9706e54.pth') == 'b9706e54'
    assert hash_from_filename('resnet18-5c106cde.pth') == '5c106cde'
    assert hash_from_filename('Mug-StanL14.bin') is None
    assert hash_from_filename('ViT-B-16.pt') is None


def test_download_verifies_and_loads(server, cache, capsys):
    base, www, requests = server
    payload = checkpoint_bytes(tiny_state())
    name = publish(www, 'tiny', payload)
    path = fetch_checkpoint(f'{base}/{name}')
    assert path == str(cache / name)
    assert open(path, 'rb').read() == payload
    err = capsys.readouterr().err
    assert f'Downloading {base}/{name}' in err
    assert '100%' in err  # the tqdm bar reached the end
    loaded = load_checkpoint_file(path)
    for key, value in tiny_state().items():
        assert torch.equal(loaded['state_dict'][key], value)
    assert sorted(os.listdir(cache)) == [name]  # no temporary file left
    # second call: served from the cache, no request
    assert fetch_checkpoint(f'{base}/{name}') == path
    assert len(requests) == 1


def test_tampered_download_is_refused_and_removed(server, cache):
    base, www, _ = server
    payload = checkpoint_bytes(tiny_state())
    name = publish(www, 'tiny', payload)
    tampered = bytearray(payload)
    tampered[len(tampered) // 2] ^= 0xFF
    (www / name).write_bytes(bytes(tampered))
    with pytest.raises(UserError, match='checksum mismatch') as info:
        fetch_checkpoint(f'{base}/{name}')
    assert name in str(info.value) and '\n' not in str(info.value)
    assert os.listdir(cache) == []


def test_explicit_hash_and_url_fragment(server, cache):
    base, www, _ = server
    payload = checkpoint_bytes(tiny_state())
    name = publish(www, 'nohash', payload, hashed=False)
    digest = hashlib.sha256(payload).hexdigest()
    wrong = ('0' if digest[0] != '0' else '1') + digest[1:]
    with pytest.raises(UserError, match='checksum mismatch'):
        fetch_checkpoint(f'{base}/{name}', sha256=wrong)
    with pytest.raises(UserError, match='checksum mismatch'):
        fetch_checkpoint(f'{base}/{name}#sha256={wrong[:12]}')
    assert os.listdir(cache) == []
    assert fetch_checkpoint(f'{base}/{name}#sha256={digest[:12]}') == str(cache / name)
    os.remove(cache / name)
    assert fetch_checkpoint(f'{base}/{name}', sha256=digest) == str(cache / name)
    with pytest.raises(UserError, match='not 8 to 64 hex'):
        fetch_checkpoint(f'{base}/{name}', sha256='xyz')


def test_file_placed_in_cache_is_checked(server, cache):
    base, www, requests = server
    payload = checkpoint_bytes(tiny_state())
    name = publish(www, 'tiny', payload)
    cache.mkdir(parents=True)
    (cache / name).write_bytes(payload[:-10])
    with pytest.raises(UserError, match='delete it to download again'):
        fetch_checkpoint(f'{base}/{name}')
    (cache / name).write_bytes(payload)  # the offline route: copied by hand
    assert fetch_checkpoint(f'{base}/{name}') == str(cache / name)
    assert requests == []


def test_incomplete_download_leaves_nothing(server, cache):
    base, _, _ = server
    with pytest.raises(UserError, match='incomplete|interrupted'):
        fetch_checkpoint(f'{base}/short/model.pth')
    assert os.listdir(cache) == []


def test_unreachable_url_gives_offline_error(cache):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    url = f'http://127.0.0.1:{port}/stan-0123abcd.pth'
    with pytest.raises(UserError) as info:
        fetch_checkpoint(url, timeout=5)
    message = str(info.value)
    assert '\n' not in message
    assert url in message and str(cache / 'stan-0123abcd.pth') in message
    assert 'offline' in message and '0123abcd' in message
    assert not cache.exists() or os.listdir(cache) == []


def test_http_error(server, cache):
    base, _, _ = server
    with pytest.raises(UserError, match='HTTP 404'):
        fetch_checkpoint(f'{base}/missing-0123abcd.pth')


def test_mmengine_checkpoint_loader_uses_verified_download(server, cache):
    """``mmstan:http(s)://`` goes through the verified download; mmengine's own
    ``http(s)://`` loader is left as it is for everyone else."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

    from mmstan.utils.download import load_from_url

    base, www, _ = server
    payload = checkpoint_bytes(tiny_state())
    name = publish(www, 'tiny', payload)
    loaded = _load_checkpoint(f'mmstan:{base}/{name}', map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], tiny_state()['w'])
    for url in ('mmstan:https://x/y.pth', 'mmstan:http://x/y.pth'):
        assert CheckpointLoader._get_checkpoint_loader(url) is load_from_url
    for url in ('https://x/y.pth', 'http://x/y.pth'):
        assert CheckpointLoader._get_checkpoint_loader(url) is mmengine_checkpoint.load_from_http
    # a tampered URL fails before anything is unpickled
    tampered = bytearray(payload)
    tampered[-30] ^= 0xFF
    (www / 'bad-{}.pth'.format(name.split('-')[1][:8])).write_bytes(bytes(tampered))
    with pytest.raises(UserError, match='checksum mismatch'):
        _load_checkpoint(f'mmstan:{base}/bad-{name.split("-")[1][:8]}.pth')


def test_tools_route_config_urls():
    """mmstan's tools give every http(s) checkpoint of a config the ``mmstan:`` prefix:
    ``load_from``, ``init_cfg`` checkpoints (dict or list), a tested / resumed URL."""
    from mmengine.config import Config

    from mmstan.utils.cli import require_checkpoint
    from mmstan.utils.download import route_checkpoint_urls

    url = 'https://example.org/a-0123abcd.pth'
    cfg = Config(dict(
        load_from=url,
        model=dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=url)),
                   heads=[dict(init_cfg=[dict(type='Normal'),
                                         dict(type='Pretrained', checkpoint='http://x/b.pth')])],
                   neck=dict(init_cfg=dict(type='Pretrained', checkpoint='local.pth')))))
    route_checkpoint_urls(cfg)
    route_checkpoint_urls(cfg)  # idempotent
    assert cfg.load_from == 'mmstan:' + url
    assert cfg.model.backbone.init_cfg.checkpoint == 'mmstan:' + url
    assert cfg.model.heads[0].init_cfg[1].checkpoint == 'mmstan:http://x/b.pth'
    assert cfg.model.neck.init_cfg.checkpoint == 'local.pth'
    assert require_checkpoint(url) == 'mmstan:' + url
    assert require_checkpoint('open-mmlab://resnet50') == 'open-mmlab://resnet50'


def build_demo_model(backbone_init_cfg=None):
    from mmaction.registry import MODELS
    from mmengine.config import Config

    cfg = Config.fromfile(DEMO)
    if backbone_init_cfg:
        cfg.model.backbone.init_cfg = backbone_init_cfg
    return MODELS.build(cfg.model)


def random_demo_checkpoint(www) -> tuple:
    torch.manual_seed(0)
    model = build_demo_model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return publish(www, 'demo', checkpoint_bytes(state)), state


def assert_same_weights(model, state):
    current = model.state_dict()
    assert set(current) == set(state)
    for key, value in state.items():
        assert torch.equal(current[key], value), key


def test_pretrained_init_cfg_url(server, cache):
    base, www, _ = server
    name, state = random_demo_checkpoint(www)
    # mmaction2's usual form: the backbone's init_cfg takes its part of a full checkpoint
    model = build_demo_model(dict(type='Pretrained', checkpoint=f'mmstan:{base}/{name}',
                                  prefix='backbone.'))
    model.init_weights()
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    assert backbone
    assert_same_weights(model.backbone, backbone)
    assert os.listdir(cache) == [name]


def test_runner_load_from_url(server, cache, tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmstan.utils.download import route_checkpoint_urls

    base, www, _ = server
    name, state = random_demo_checkpoint(www)
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = f'{base}/{name}'
    route_checkpoint_urls(cfg)  # what mmstan's tools do
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    assert_same_weights(runner.model, state)

    # A valid checkpoint with other weights under that hashed name: mmengine's own HTTP
    # loader (no hash check) would load it; the verified one refuses it.
    other = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    (www / name).write_bytes(checkpoint_bytes(other))
    os.remove(cache / name)
    cfg.work_dir = str(tmp_path / 'work2')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(UserError, match='checksum mismatch'):
        runner.load_or_resume()
    assert os.listdir(cache) == []


@pytest.mark.slow
def test_tools_test_with_url(server, torch_home, cache, synthetic_motion, tmp_path):
    base, www, requests = server
    name, _ = random_demo_checkpoint(www)
    opts = []
    for key in ('data_root', ):
        opts.append(f'test_dataloader.dataset.{key}={synthetic_motion}')
    opts += ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
             'test_dataloader.batch_size=16']
    proc = run_tool(['tools/test.py', DEMO, f'{base}/{name}', '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *opts], env=dict(TORCH_HOME=str(torch_home)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'acc/top1' in proc.stdout + proc.stderr
    assert os.listdir(cache) == [name] and len(requests) == 1


def test_clip_pretrained_url(server, cache, tiny_arch):
    """``model.clip.pretrained=URL`` and a backbone's ``pretrained=URL``: the CLIP file is
    downloaded once, verified, and its weights are the towers' weights; a tampered copy
    is refused before anything loads."""
    from mmaction.registry import MODELS

    from mmstan.models.clip import load_clip

    base, www, requests = server
    torch.manual_seed(3)
    state = load_clip(tiny_arch).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    name = publish(www, 'tiny_clip', buffer.getvalue())
    url = f'{base}/{name}'
    retriever = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch, pretrained=url),
                                  backbone=dict(type='CLIPSTAN', input_resolution=32, num_layers=1)))
    assert torch.equal(retriever.backbone.clip.visual.conv1.weight, state['visual.conv1.weight'])
    assert torch.equal(retriever.text_encoder.text.token_embedding.weight, state['token_embedding.weight'])
    backbone = MODELS.build(dict(type='CLIPMeanPool', arch=tiny_arch, pretrained=url))
    assert torch.equal(backbone.clip.visual.proj, state['visual.proj'])
    assert os.listdir(cache) == [name] and len(requests) == 1  # the second build used the cache

    tampered = bytearray(buffer.getvalue())
    tampered[len(tampered) // 3] ^= 0xFF
    bad = f'bad_clip-{name.rsplit("-", 1)[1]}'
    (www / bad).write_bytes(bytes(tampered))
    with pytest.raises(UserError, match='checksum mismatch'):
        MODELS.build(dict(type='CLIPMeanPool', arch=tiny_arch, pretrained=f'{base}/{bad}'))
    assert os.listdir(cache) == [name]
