"""The video-text datasets' public annotation files -> mmstan's caption JSON
(``{"video.mp4": ["caption", ...]}``, or a ``[{"video", "caption"}]`` list for WebVid),
read by ``VideoCaptionDataset``: the library of ``tools/data/prepare_retrieval.py``, whose
docstring (``--help``) lists the files each dataset publishes and the outputs.

Each preparer ``msrvtt`` / ``didemo`` / ``lsmdc`` / ``msvd`` / ``webvid`` reads ``root``
and returns ``{output file name: annotation}``; :func:`prepare_retrieval` runs one and
writes its outputs into ``root``. A malformed file stops with one :class:`UserError`
naming the file, the line and what was expected.
"""
import json
import os.path as osp
import pickle
from collections import Counter
from typing import Dict, Iterator, List, Optional, Tuple

from tqdm import tqdm

from mmstan.errors import UserError

from . import annotation_files as af

SCRIPT = 'prepare_retrieval.py'
Captions = Dict[str, List[str]]


def _path(root: str, name: str) -> str:
    return af.require_annotation(osp.join(root, 'annotations', name), SCRIPT)


# ---------------------------------------------------------------- MSR-VTT
#: mmaction2's MSR-VTT annotations, our output name -> the names mmaction2's scripts write
#: (tools/data/video_retrieval/prepare_msrvtt.py, then tools/data/msrvtt's VindLU files).
MSRVTT_MMACTION = {'train_9k.json': ('train_9k.json', 'msrvtt_ret_train9k.json'),
                   'test_1k.json': ('test_JSFUSION.json', 'msrvtt_ret_test1k.json')}
CAPTION_JSON = '{"video.mp4": ["caption", ...]} or [{"video": ..., "caption": ...}]'


def read_caption_json(path: str) -> Captions:
    """mmaction2's caption annotation (either layout) as ``{video.mp4: [captions]}``; a
    video named without extension (older mmaction2) gets ``.mp4``."""
    data = af.load_json(path, CAPTION_JSON)
    if isinstance(data, dict):
        pairs = list(data.items())
    elif isinstance(data, list):
        pairs = []
        for i, item in enumerate(data, 1):
            if not isinstance(item, dict) or not {'video', 'caption'} <= set(item):
                raise af.bad_entry(path, i, f'{str(item)[:80]} lacks "video" or "caption"; '
                                   f'expected {CAPTION_JSON}')
            pairs.append((item['video'], item['caption']))
    else:
        raise UserError(f'{path}: expected {CAPTION_JSON}')
    out: Captions = {}
    for i, (video, captions) in enumerate(pairs, 1):
        captions = [captions] if isinstance(captions, str) else captions
        if not isinstance(video, str) or not isinstance(captions, list) or not captions or \
                not all(isinstance(c, str) for c in captions):
            raise af.bad_entry(path, i, f'{str(video)[:40]}: {str(captions)[:60]}; expected {CAPTION_JSON}')
        video = video if osp.splitext(video)[1] else f'{video}.mp4'
        out.setdefault(video, []).extend(captions)
    if not out:
        raise UserError(f'{path} holds no video; expected {CAPTION_JSON}')
    return out


def _msrvtt_mmaction(root: str) -> Optional[Dict[str, object]]:
    found = {}
    for out, names in MSRVTT_MMACTION.items():
        paths = [osp.join(d, n) for n in names for d in (osp.join(root, 'annotations'), root)]
        found[out] = next((p for p in paths if osp.isfile(p)), None)
    if not any(found.values()):
        return None
    for out, path in found.items():
        if path is None:
            names = ' or '.join(MSRVTT_MMACTION[out])
            raise UserError(f'annotation file not found: {names} in {root} or {root}/annotations '
                            '(mmaction2\'s MSR-VTT files come in pairs: train_9k.json with '
                            'test_JSFUSION.json, msrvtt_ret_train9k.json with msrvtt_ret_test1k.json)')
    print(f'msrvtt: converting mmaction2\'s {", ".join(found.values())}')
    return {out: read_caption_json(path) for out, path in found.items()}


def msrvtt(root: str, **_) -> Dict[str, object]:
    if not osp.isfile(osp.join(root, 'annotations', 'MSRVTT_data.json')):
        converted = _msrvtt_mmaction(root)
        if converted is not None:
            return converted
    data_path = af.require_file(
        osp.join(root, 'annotations', 'MSRVTT_data.json'), 'annotation file',
        'put the three files of CLIP4Clip\'s msrvtt_data.zip (MSRVTT_data.json, '
        'MSRVTT_train.9k.csv, MSRVTT_JSFUSION_test.csv) in that folder, or mmaction2\'s '
        'train_9k.json and test_JSFUSION.json in --root; see the docstring of '
        f'tools/data/{SCRIPT}')
    expected = '{"sentences": [{"video_id": "video0", "caption": "..."}, ...]}'
    data = af.load_json(data_path, expected)
    sentences = data.get('sentences') if isinstance(data, dict) else None
    if not isinstance(sentences, list) or not sentences:
        raise UserError(f'{data_path}: no "sentences" list; expected {expected}')
    captions: Captions = {}
    for i, s in enumerate(tqdm(sentences, desc='msrvtt captions'), 1):
        if not isinstance(s, dict) or not {'video_id', 'caption'} <= set(s):
            raise af.bad_entry(data_path, i, f'sentence {str(s)[:80]} lacks "video_id" or "caption"; '
                               f'expected {expected}')
        captions.setdefault(s['video_id'], []).append(s['caption'])
    train_path = _path(root, 'MSRVTT_train.9k.csv')
    train = {}
    for line, row in af.iter_csv(train_path, ('video_id', )):
        if row['video_id'] not in captions:
            raise af.bad_line(train_path, line, f"video id {row['video_id']!r} has no caption in "
                              f'{data_path}')
        train[f"{row['video_id']}.mp4"] = captions[row['video_id']]
    test_path = _path(root, 'MSRVTT_JSFUSION_test.csv')
    test = {f"{row['video_id']}.mp4": [row['sentence']]
            for _, row in af.iter_csv(test_path, ('video_id', 'sentence'))}
    return {'train_9k.json': train, 'test_1k.json': test}


# ---------------------------------------------------------------- DiDeMo
def _stem(video: str) -> str:
    return video.rsplit('.', 1)[0] if '.' in video else video


#: --video-names: how a download script names the file of an annotated DiDeMo video.
DIDEMO_NAMES = {
    'as-annotated': lambda v: v,              # x.mov (the upload as it is)
    'name.mp4': lambda v: f'{v}.mp4',         # x.mov.mp4 (LocalizingMoments download_videos_AWS.py)
    'stem.mp4': lambda v: f'{_stem(v)}.mp4',  # x.mp4 (extension replaced)
}


def _didemo_names(videos: List[str], names: str, video_dir: str) -> Tuple[Dict[str, str], List[str]]:
    """The file name of each annotated video under ``names`` (``auto``: the naming under
    which it is in ``video_dir``; a missing one gets the naming most videos have), and the
    names missing on disk."""
    found = {}
    for video in tqdm(videos, desc='didemo videos on disk', unit='video'):
        for naming in ([names] if names != 'auto' else DIDEMO_NAMES):
            if osp.isfile(osp.join(video_dir, DIDEMO_NAMES[naming](video))):
                found[video] = naming
                break
    usual = Counter(found.values()).most_common(1)[0][0] if found else \
        ('stem.mp4' if names == 'auto' else names)
    files = {v: DIDEMO_NAMES[found.get(v, usual)](v) for v in videos}
    return files, [files[v] for v in videos if v not in found]


def didemo(root: str, video_names: str = 'auto', **_) -> Dict[str, object]:
    video_dir = osp.join(root, 'videos')
    if not osp.isdir(video_dir):
        if video_names == 'auto':
            raise UserError(f'videos folder not found: {video_dir}; DiDeMo\'s file names depend on '
                            'the download script, so put the videos there first (--video-names '
                            'auto finds them) or choose --video-names as-annotated|name.mp4|stem.mp4')
        video_dir = None
    expected = '[{"video": "<flickr id>.mov", "description": "...", ...}, ...]'
    out = {}
    for split in ('train', 'val', 'test'):
        path = _path(root, f'{split}_data.json')
        items = af.load_json(path, expected)
        if not isinstance(items, list) or not items:
            raise UserError(f'{path}: expected {expected} (not empty)')
        captions: Captions = {}
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict) or not isinstance(item.get('video'), str) or \
                    not isinstance(item.get('description'), str):
                raise af.bad_entry(path, i, f'{str(item)[:80]} lacks "video" or "description"; '
                                   f'expected {expected}')
            captions.setdefault(item['video'], []).append(item['description'].strip())
        if video_dir is None:
            names = {v: DIDEMO_NAMES[video_names](v) for v in captions}
            print(f'didemo {split}: {len(captions)} annotated videos, named {video_names} '
                  f'(not checked: no folder {osp.join(root, "videos")})')
        else:
            names, missing = _didemo_names(list(captions), video_names, video_dir)
            if len(missing) == len(captions):
                first = next(iter(captions))
                tried = [f(first) for n, f in DIDEMO_NAMES.items() if video_names in ('auto', n)]
                raise UserError(f'didemo {split}: none of the {len(captions)} videos of {path} is '
                                f'in {video_dir} (looked for e.g. {" or ".join(tried)}); check the '
                                'folder or --video-names (auto, as-annotated, name.mp4, stem.mp4)')
            print(f'didemo {split}: {len(captions) - len(missing)} of {len(captions)} annotated '
                  f'videos found in {video_dir}, {len(missing)} missing'
                  + (f' (e.g. {missing[0]}; the dataset skips them)' if missing else ''))
        out[f'{split}.json'] = {names[v]: caps for v, caps in captions.items()}
    return out


# ---------------------------------------------------------------- LSMDC
LSMDC_FIELDS = 'clip id, start aligned, end aligned, start extracted, end extracted, sentence'
#: LSMDC outputs: name -> (published file, required)
LSMDC_FILES = {'train.json': ('LSMDC16_annos_training.csv', True),
               'val.json': ('LSMDC16_annos_val.csv', True),
               'test_1k.json': ('LSMDC16_challenge_1000_publictect.csv', True),
               'test_10k.json': ('LSMDC16_annos_test.csv', False)}


def read_lsmdc(path: str) -> Captions:
    """``{<movie>/<clip id>.avi: [sentences]}`` from one LSMDC16 annotation file."""
    captions: Captions = {}
    for line, text in af.read_lines(path, f'6 tab-separated fields: {LSMDC_FIELDS}'):
        parts = text.split('\t')
        if len(parts) != 6 or '_' not in parts[0]:
            raise af.bad_line(path, line, f'{len(parts)} field(s) {text[:60]!r}; expected 6 '
                              f'tab-separated fields: {LSMDC_FIELDS} (clip id like '
                              '0001_American_Beauty_00.00.51.926-00.00.54.129)'
                              f'{af.guess_delimiter(text, chr(9))}')
        clip = parts[0].strip()
        movie = clip.rsplit('_', 1)[0]
        captions.setdefault(f'{movie}/{clip}.avi', []).append(parts[5].strip())
    return captions


def lsmdc(root: str, **_) -> Dict[str, object]:
    out = {}
    for name, (source, required) in LSMDC_FILES.items():
        path = osp.join(root, 'annotations', source)
        if not required and not osp.isfile(path):
            print(f'lsmdc: no {path}, so no {name} (the ~10k-sentence public test; the '
                  'benchmark is test_1k.json)')
            continue
        out[name] = read_lsmdc(_path(root, source))
    return out


# ---------------------------------------------------------------- MSVD
def msvd(root: str, **_) -> Dict[str, object]:
    raw_path = _path(root, 'raw-captions.pkl')
    with open(raw_path, 'rb') as f:
        raw = pickle.load(f)  # the dataset's own file: a dict of word lists
    if not isinstance(raw, dict) or not raw:
        raise UserError(f'{raw_path}: expected a dict {{video name: [[word, ...], ...]}}')
    out = {}
    for split in ('train', 'val', 'test'):
        path = _path(root, f'{split}_list.txt')
        captions: Captions = {}
        for line, name in af.read_lines(path, 'one video name per line (like -4wsuPCjDBc_5_15)'):
            if name not in raw:
                raise af.bad_line(path, line, f'video {name!r} is not in {raw_path}')
            captions[f'{name}.avi'] = [c if isinstance(c, str) else ' '.join(c) for c in raw[name]]
        out[f'{split}.json'] = captions
    return out


# ---------------------------------------------------------------- WebVid
def read_webvid_csv(path: str) -> Iterator[Dict[str, str]]:
    """``{video: <page_dir>/<videoid>.mp4, caption: name}`` per row of a WebVid CSV."""
    for _, row in tqdm(af.iter_csv(path, ('videoid', 'name', 'page_dir')), desc='webvid'):
        yield dict(video=f"{row['page_dir']}/{row['videoid']}.mp4", caption=row['name'])


def webvid(root: str, csv_name: str = 'results_10M_train.csv', **_) -> Dict[str, object]:
    return {f'{osp.splitext(csv_name)[0]}.json': list(read_webvid_csv(_path(root, csv_name)))}


PREPARERS = dict(msrvtt=msrvtt, didemo=didemo, lsmdc=lsmdc, msvd=msvd, webvid=webvid)


def prepare_retrieval(dataset: str, root: str, csv_name: str = 'results_10M_train.csv',
                      video_names: str = 'auto') -> Dict[str, object]:
    """Read ``dataset``'s annotations under ``root`` and write its caption JSON files
    there; returns ``{file name: annotation}``. ``csv_name``: WebVid's CSV;
    ``video_names``: DiDeMo's file naming (a key of :data:`DIDEMO_NAMES`, or ``auto``)."""
    outputs = PREPARERS[dataset](root, csv_name=csv_name, video_names=video_names)
    for name, ann in outputs.items():
        if not ann:
            raise UserError(f'{dataset}: no caption for {name}; see the docstring of '
                            f'tools/data/{SCRIPT}')
    for name, ann in outputs.items():
        path = osp.join(root, name)
        with open(path, 'w') as f:
            json.dump(ann, f)
        count = len(ann) if isinstance(ann, list) else sum(len(c) for c in ann.values())
        print(f'wrote {path}: {count} captions')
    return outputs
