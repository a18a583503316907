"""Turn each recognition dataset's own annotation files into mmaction2 video lists
(``relative/path.ext label``) and a label map (one class name per line, index = label).

    python tools/data/prepare_recognition.py k400   --root data/kinetics400
    python tools/data/prepare_recognition.py ssv2   --root data/sthv2
    python tools/data/prepare_recognition.py ucf101 --root data/ucf101
    python tools/data/prepare_recognition.py hmdb51 --root data/hmdb51

Expected inputs under ``--root`` (as the datasets ship them):

- k400: ``annotations/{train,val}.csv`` (``label,youtube_id,time_start,time_end,split``)
  and videos ``videos_{train,val}/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4``
  (mmaction2's downloader layout); clips missing on disk are left out and counted.
- ssv2: ``annotations/something-something-v2-{labels,train,validation}.json`` and
  ``videos/<id>.webm``.
- ucf101: ``annotations/classInd.txt``, ``annotations/{train,test}list0{1,2,3}.txt`` and
  ``videos/<Class>/<name>.avi``.
- hmdb51: ``annotations/<class>_test_split{1,2,3}.txt`` (``name.avi 1|2|0``: train, test,
  unused) and ``videos/<class>/<name>.avi``.

Outputs (in ``--root``): the list files the configs in ``configs/_base_/datasets/`` name,
and ``label_map.txt``.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # a checkout

from mmstan.utils.paths import require_file  # noqa: E402

Lists = Dict[str, List[Tuple[str, int]]]


def _require(path: str) -> str:
    return require_file(path, 'annotation file', 'see the docstring of '
                        'tools/data/prepare_recognition.py for the expected layout')


def k400(root: str) -> Tuple[List[str], Lists]:
    rows = {}
    for split in ('train', 'val'):
        with open(_require(osp.join(root, 'annotations', f'{split}.csv'))) as f:
            rows[split] = list(csv.DictReader(f))
    classes = sorted({r['label'] for r in rows['train']})
    index = {c: i for i, c in enumerate(classes)}
    lists = {}
    for split, split_rows in rows.items():
        items, missing = [], 0
        for r in tqdm(split_rows, desc=f'k400 {split}', unit='clip'):
            name = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_" \
                   f"{int(float(r['time_end'])):06d}.mp4"
            rel = osp.join(r['label'], name)
            if osp.isfile(osp.join(root, f'videos_{split}', rel)):
                items.append((rel, index[r['label']]))
            else:
                missing += 1
        if missing:
            print(f'k400 {split}: {missing} of {len(split_rows)} clips not on disk, left out')
        lists[f'kinetics400_{split}_list_videos.txt'] = items
    return classes, lists


def ssv2(root: str) -> Tuple[List[str], Lists]:
    ann = osp.join(root, 'annotations')
    with open(_require(osp.join(ann, 'something-something-v2-labels.json'))) as f:
        label_ids = {k: int(v) for k, v in json.load(f).items()}
    classes = [name for name, _ in sorted(label_ids.items(), key=lambda kv: kv[1])]
    lists = {}
    for split, out in (('train', 'train'), ('validation', 'val')):
        with open(_require(osp.join(ann, f'something-something-v2-{split}.json'))) as f:
            entries = json.load(f)
        items = [(f"{e['id']}.webm", label_ids[e['template'].replace('[', '').replace(']', '')])
                 for e in entries]
        lists[f'sthv2_{out}_list_videos.txt'] = items
    return classes, lists


def ucf101(root: str) -> Tuple[List[str], Lists]:
    ann = osp.join(root, 'annotations')
    classes = []
    with open(_require(osp.join(ann, 'classInd.txt'))) as f:
        for line in f:
            if line.strip():
                classes.append(line.split()[1])
    index = {c: i for i, c in enumerate(classes)}
    lists = {}
    for split in (1, 2, 3):
        for kind, out in (('train', 'train'), ('test', 'val')):
            path = osp.join(ann, f'{kind}list0{split}.txt')
            if not osp.isfile(path):
                continue
            with open(path) as f:
                rels = [line.split()[0] for line in f if line.strip()]
            lists[f'ucf101_{out}_split_{split}_videos.txt'] = [
                (rel, index[rel.split('/')[0]]) for rel in rels]
    if not lists:
        _require(osp.join(ann, 'trainlist01.txt'))
    return classes, lists


def hmdb51(root: str) -> Tuple[List[str], Lists]:
    files = sorted(glob.glob(osp.join(root, 'annotations', '*_test_split[123].txt')))
    if not files:
        _require(osp.join(root, 'annotations', '<class>_test_split1.txt'))
    pattern = re.compile(r'(.+)_test_split(\d)\.txt$')
    classes = sorted({pattern.match(osp.basename(p)).group(1) for p in files})
    index = {c: i for i, c in enumerate(classes)}
    lists: Lists = {}
    for path in files:
        cls, split = pattern.match(osp.basename(path)).groups()
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 2 or parts[1] == '0':
                    continue
                out = 'train' if parts[1] == '1' else 'val'
                lists.setdefault(f'hmdb51_{out}_split_{split}_videos.txt', []).append(
                    (osp.join(cls, parts[0]), index[cls]))
    return classes, lists


PREPARERS = dict(k400=k400, ssv2=ssv2, ucf101=ucf101, hmdb51=hmdb51)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dataset', choices=sorted(PREPARERS))
    parser.add_argument('--root', required=True, help='dataset folder (see the docstring)')
    args = parser.parse_args(argv)
    classes, lists = PREPARERS[args.dataset](args.root)
    with open(osp.join(args.root, 'label_map.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    for name, items in lists.items():
        with open(osp.join(args.root, name), 'w') as f:
            f.writelines(f'{rel} {label}\n' for rel, label in items)
        print(f'wrote {len(items)} videos to {osp.join(args.root, name)}')
    print(f'wrote {len(classes)} classes to {osp.join(args.root, "label_map.txt")}')


if __name__ == '__main__':
    from mmstan.utils.cli import run_or_explain

    os.umask(0o022)
    run_or_explain(main)
