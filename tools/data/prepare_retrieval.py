"""Convert each video-text dataset's public annotation files into mmstan's caption JSON
(``{"video.mp4": ["caption", ...]}``, or a ``[{"video", "caption"}]`` list for WebVid),
read by ``VideoCaptionDataset``.

    python tools/data/prepare_retrieval.py msrvtt --root data/msrvtt
    python tools/data/prepare_retrieval.py didemo --root data/didemo
    python tools/data/prepare_retrieval.py lsmdc  --root data/lsmdc
    python tools/data/prepare_retrieval.py msvd   --root data/msvd
    python tools/data/prepare_retrieval.py webvid --root data/webvid --csv results_2M_train.csv

Expected inputs under ``--root/annotations`` (the files the datasets publish):

- msrvtt: ``MSRVTT_data.json`` (``sentences: [{video_id, caption}]``),
  ``MSRVTT_train.9k.csv`` (``video_id`` column) and ``MSRVTT_JSFUSION_test.csv``
  (``video_id``, ``sentence``) -> ``train_9k.json`` (all 20 captions per video),
  ``test_1k.json`` (the 1k-A split, one caption each).
- didemo: ``{train,val,test}_data.json`` (``[{video, description}]``) -> ``{split}.json``
  (all descriptions per video; the configs concatenate them into one paragraph).
- lsmdc: ``LSMDC16_annos_{training,val,test}.csv`` (tab separated: clip id, start, end,
  start aligned, end aligned, sentence) -> ``{train,val,test}.json``; videos are
  ``<movie>/<clip id>.avi``.
- msvd: ``raw-captions.pkl`` (``{name: [[word, ...], ...]}``), ``{train,val,test}_list.txt``
  -> ``{split}.json`` (every caption; retrieval then scores t2v per caption and v2t per video).
- webvid: a WebVid CSV (``videoid``, ``name``, ``page_dir``) -> ``{csv stem}.json`` list.
"""
import argparse
import csv
import json
import os.path as osp
import pickle
import sys
from typing import Dict, List

from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # a checkout

from mmstan.utils.paths import require_file  # noqa: E402


def _path(root: str, name: str) -> str:
    return require_file(osp.join(root, 'annotations', name), 'annotation file',
                        'see the docstring of tools/data/prepare_retrieval.py for the files each '
                        'dataset publishes')


def msrvtt(root: str, **_) -> Dict[str, object]:
    with open(_path(root, 'MSRVTT_data.json')) as f:
        sentences = json.load(f)['sentences']
    captions: Dict[str, List[str]] = {}
    for s in tqdm(sentences, desc='msrvtt captions'):
        captions.setdefault(s['video_id'], []).append(s['caption'])
    with open(_path(root, 'MSRVTT_train.9k.csv')) as f:
        train_ids = [row['video_id'] for row in csv.DictReader(f)]
    with open(_path(root, 'MSRVTT_JSFUSION_test.csv')) as f:
        test = {f"{row['video_id']}.mp4": [row['sentence']] for row in csv.DictReader(f)}
    return {'train_9k.json': {f'{v}.mp4': captions[v] for v in train_ids},
            'test_1k.json': test}


def didemo(root: str, **_) -> Dict[str, object]:
    out = {}
    for split in ('train', 'val', 'test'):
        with open(_path(root, f'{split}_data.json')) as f:
            items = json.load(f)
        captions: Dict[str, List[str]] = {}
        for item in items:
            captions.setdefault(item['video'], []).append(item['description'].strip())
        out[f'{split}.json'] = captions
    return out


def lsmdc(root: str, **_) -> Dict[str, object]:
    out = {}
    for split, name in (('train', 'training'), ('val', 'val'), ('test', 'test')):
        captions: Dict[str, List[str]] = {}
        with open(_path(root, f'LSMDC16_annos_{name}.csv')) as f:
            for line in f:
                parts = line.rstrip('\n').split('\t')
                if len(parts) < 6:
                    continue
                clip = parts[0]
                movie = clip.rsplit('_', 1)[0]
                captions.setdefault(f'{movie}/{clip}.avi', []).append(parts[5].strip())
        out[f'{split}.json'] = captions
    return out


def msvd(root: str, **_) -> Dict[str, object]:
    with open(_path(root, 'raw-captions.pkl'), 'rb') as f:
        raw = pickle.load(f)  # the dataset's own file: a dict of word lists
    out = {}
    for split in ('train', 'val', 'test'):
        with open(_path(root, f'{split}_list.txt')) as f:
            names = [line.strip() for line in f if line.strip()]
        out[f'{split}.json'] = {f'{n}.avi': [' '.join(words) for words in raw[n]] for n in names}
    return out


def webvid(root: str, csv_name: str = 'results_2M_train.csv', **_) -> Dict[str, object]:
    items = []
    with open(_path(root, csv_name)) as f:
        for row in tqdm(csv.DictReader(f), desc='webvid'):
            items.append(dict(video=f"{row['page_dir']}/{row['videoid']}.mp4",
                              caption=row['name']))
    return {f'{osp.splitext(csv_name)[0]}.json': items}


PREPARERS = dict(msrvtt=msrvtt, didemo=didemo, lsmdc=lsmdc, msvd=msvd, webvid=webvid)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dataset', choices=sorted(PREPARERS))
    parser.add_argument('--root', required=True)
    parser.add_argument('--csv', default='results_2M_train.csv', help='WebVid CSV name')
    args = parser.parse_args(argv)
    for name, ann in PREPARERS[args.dataset](args.root, csv_name=args.csv).items():
        path = osp.join(args.root, name)
        with open(path, 'w') as f:
            json.dump(ann, f)
        count = len(ann) if isinstance(ann, list) else sum(len(c) for c in ann.values())
        print(f'wrote {path}: {count} captions')


if __name__ == '__main__':
    from mmstan.utils.cli import run_or_explain

    run_or_explain(main)
