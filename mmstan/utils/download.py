"""Download checkpoints by URL into torch's hub cache, verified before anything loads them.

``fetch_checkpoint(url)`` downloads once into ``torch.hub.get_dir()/checkpoints`` (set
``TORCH_HOME`` to move it) with a tqdm progress bar and returns the local path. The file
is checked against a SHA-256 hash:

- given explicitly (``sha256=``, e.g. from a metafile; a prefix of 8+ hex digits is
  enough), or as a ``#sha256=<hex>`` fragment of the URL (the way to pass one through
  ``load_from`` or ``init_cfg`` strings), or
- taken from the file name by the OpenMMLab / torch.hub convention
  ``name-<sha256 prefix>.pth`` (the 8+ hex digits after the last ``-``).

The download goes to a temporary file in the cache directory and is renamed into place
only once complete and verified, so a partial or tampered file is never loaded and never
left behind. A URL without any hash is downloaded unverified. Offline, the error names the
URL and the path to place the file at.

mmengine's ``CheckpointLoader`` loads ``mmstan:http(s)://...`` through :func:`load_from_url`
(registered on ``import mmstan`` under that prefix of mmstan's own: mmengine's ``http(s)://``
loader stays mmengine's for everyone else). mmstan's tools (``tools/train.py``,
``tools/test.py``, via :mod:`mmstan.utils.cli`) give that prefix to the http(s) URLs of
``load_from``, ``--resume``, the tested checkpoint and every ``init_cfg`` ``checkpoint``
(:func:`route_checkpoint_urls`), so those all download through here; elsewhere (a config
run by mmaction2's tools, your own code) write ``mmstan:https://...``. mmengine's own HTTP
loader goes through torch.hub's ``load_state_dict_from_url``, which loads with
``weights_only=False`` (unpickling can run code) and checks no hash unless asked.
"""
import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

import torch

from mmstan.errors import UserError

#: The hash in a file name: ``-`` + 8 to 64 hex digits + the extension(s), at the end.
_NAME_HASH = re.compile(r'-([0-9a-f]{8,64})(\.[^-]*)?$')
_HEX = re.compile(r'[0-9a-fA-F]{8,64}')
_CHUNK = 1 << 20


#: The prefix that sends an http(s) URL through :func:`load_from_url` in mmengine.
SCHEME = 'mmstan:'


def is_url(path: str) -> bool:
    """True for ``http://`` and ``https://`` addresses (``mmstan:`` prefixed or not)."""
    return isinstance(path, str) and strip_scheme(path).startswith(('http://', 'https://'))


def strip_scheme(path: str) -> str:
    """``path`` without a leading ``mmstan:``."""
    return path[len(SCHEME):] if path.startswith(SCHEME) else path


def via_mmstan(path):
    """``mmstan:`` + ``path`` for an http(s) URL (mmengine then loads it through
    :func:`load_from_url`); anything else unchanged."""
    return SCHEME + path if is_url(path) and not path.startswith(SCHEME) else path


def route_checkpoint_urls(cfg) -> None:
    """Send the config's http(s) checkpoints through :func:`load_from_url`: ``load_from``
    and the ``checkpoint`` of every ``init_cfg`` under ``model`` get the ``mmstan:`` prefix
    (in place). mmstan's tools call it on every config they run."""
    if cfg.get('load_from'):
        cfg.load_from = via_mmstan(cfg.load_from)

    def walk(node):
        if isinstance(node, dict):
            init_cfg = node.get('init_cfg')
            for item in (init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]):
                if isinstance(item, dict) and item.get('checkpoint'):
                    item['checkpoint'] = via_mmstan(item['checkpoint'])
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(cfg.get('model'))


def checkpoint_cache_dir() -> str:
    """``torch.hub.get_dir()/checkpoints``: where torch.hub and mmengine cache checkpoints."""
    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def split_url(url: str) -> tuple:
    """``url`` -> ``(url without fragment, file name, sha256 from a #sha256= fragment or None)``."""
    parts = urllib.parse.urlsplit(url)
    fragment = urllib.parse.parse_qs(parts.fragment).get('sha256', [None])[0]
    plain = urllib.parse.urlunsplit(parts._replace(fragment=''))
    name = os.path.basename(urllib.parse.unquote(parts.path))
    if not name:
        raise UserError(f'checkpoint URL {url} names no file (it ends with "/")')
    return plain, name, fragment


def hash_from_filename(name: str) -> Optional[str]:
    """The SHA-256 prefix of an OpenMMLab-style name ``name-<8+ hex>.pth``, else None."""
    match = _NAME_HASH.search(os.path.basename(name))
    return match.group(1) if match else None


def _check_hash_arg(sha256: str, url: str) -> str:
    if not _HEX.fullmatch(sha256):
        raise UserError(f'sha256 {sha256!r} given for {url} is not 8 to 64 hex digits')
    return sha256.lower()


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _offline_message(url: str, dest: str, reason: str, expected: Optional[str]) -> str:
    check = f' (its sha256 must start with {expected})' if expected else ''
    return (f'could not download {url} ({reason}); offline? download it on a machine with '
            f'internet and place it at {dest}{check}, then run again')


def _download(url: str, dest: str, expected: Optional[str], progress: bool,
              timeout: float) -> None:
    """Stream ``url`` to a temporary file beside ``dest``, verify, rename into place."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={'User-Agent': 'mmstan'})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        raise UserError(f'could not download {url} (HTTP {err.code} {err.reason}); check the '
                        'URL (model-index.yml lists the published ones)') from err
    except OSError as err:  # URLError, and TimeoutError (socket.timeout) too
        reason = getattr(err, 'reason', None) or err
        raise UserError(_offline_message(url, dest, str(reason), expected)) from err

    directory = os.path.dirname(dest)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f'.{os.path.basename(dest)}.',
                               suffix='.partial')
    try:
        digest = hashlib.sha256()
        size = int(response.headers.get('Content-Length') or 0) or None
        received = 0
        with response, os.fdopen(fd, 'wb') as out, tqdm(
                total=size, unit='B', unit_scale=True, unit_divisor=1024, disable=not progress,
                desc=os.path.basename(dest)) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except OSError as err:  # TimeoutError (socket.timeout) too
                    raise UserError(_offline_message(url, dest, f'interrupted: {err}',
                                                     expected)) from err
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if size is not None and received != size:
            raise UserError(f'incomplete download of {url}: {received} of {size} bytes; '
                            'run again (nothing was kept)')
        actual = digest.hexdigest()
        if expected and not actual.startswith(expected):
            raise UserError(f'checksum mismatch for {url}: sha256 {actual[:len(expected)]}... '
                            f'!= expected {expected} (corrupt or tampered download; removed, '
                            'nothing loaded)')
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fetch_checkpoint(url: str, sha256: Optional[str] = None, cache_dir: Optional[str] = None,
                     progress: bool = True, timeout: float = 30.0) -> str:
    """Download ``url`` once (verified) and return the local file path.

    Args:
        url: ``http(s)://`` address (``mmstan:`` prefixed or not); a ``#sha256=<hex>``
            fragment gives the expected hash.
        sha256: expected SHA-256 (full or a prefix of 8+ hex digits); overrides the hash in
            the URL fragment or file name.
        cache_dir: where to keep it (default :func:`checkpoint_cache_dir`).
        progress: show a tqdm progress bar on stderr.
        timeout: seconds to wait for the server before giving up (offline error).

    Raises:
        UserError: offline / unreachable (naming the path to place the file at), HTTP
            error, incomplete download, or a hash mismatch (nothing is kept).
    """
    if not is_url(url):
        raise UserError(f'not an http(s) URL: {url}')
    url = strip_scheme(url)
    plain, name, fragment_hash = split_url(url)
    expected = sha256 or fragment_hash or hash_from_filename(name)
    if expected:
        expected = _check_hash_arg(expected, url)
    directory = cache_dir or checkpoint_cache_dir()
    os.makedirs(directory, exist_ok=True)
    dest = os.path.join(directory, name)
    if os.path.isfile(dest):
        # Only verified downloads are renamed into the cache, but a file may also have
        # been placed there by hand (the offline route): check it the same way.
        if expected and not file_sha256(dest).startswith(expected):
            raise UserError(f'{dest} (cached for {plain}) does not match its expected sha256 '
                            f'{expected}; delete it to download again')
        return dest
    if progress:
        print(f'Downloading {plain} to {dest}', file=sys.stderr, flush=True)
    _download(plain, dest, expected, progress, timeout)
    return dest


def resolve_checkpoint(path_or_url: str, sha256: Optional[str] = None) -> str:
    """A local path for ``path_or_url``: URLs are fetched (:func:`fetch_checkpoint`),
    anything else is returned unchanged (callers check that it exists)."""
    if is_url(path_or_url):
        return fetch_checkpoint(path_or_url, sha256=sha256)
    return path_or_url


def load_checkpoint_file(path: str, map_location='cpu'):
    """Load a checkpoint with ``weights_only=True`` (or safetensors): no code runs."""
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device=str(map_location or 'cpu'))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, zipfile / EOF errors, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f'{path} is not a loadable PyTorch checkpoint with weights_only=True '
                        f'({first})') from err


def load_from_url(filename: str, map_location=None):
    """mmengine ``CheckpointLoader`` scheme for ``mmstan:http(s)://``: verified download,
    then a weights-only load. In distributed runs rank 0 downloads first, the others then
    find the file in the cache (concurrent downloads on separate machines are safe too)."""
    from mmengine.dist import barrier, get_dist_info

    rank, world_size = get_dist_info()
    path = None
    if rank == 0:
        path = fetch_checkpoint(filename)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = fetch_checkpoint(filename, progress=False)
    return load_checkpoint_file(path, map_location)


def register_url_loader() -> None:
    """Make mmengine load ``mmstan:http://`` and ``mmstan:https://`` checkpoints through
    :func:`load_from_url`: new prefixes of mmstan's own, beside mmengine's ``http(s)://``
    loader, which stays as it is (idempotent; replaces no registered prefix)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    for prefix in (SCHEME + 'http://', SCHEME + 'https://'):
        try:
            CheckpointLoader.register_scheme(prefixes=prefix, loader=load_from_url)
        except KeyError:  # registered by an earlier import of this module
            pass
