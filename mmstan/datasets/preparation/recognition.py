"""The recognition datasets' own annotation files -> mmaction2 video lists
(``relative/path.ext label``) and a label map (one class name per line, index = label):
the library of ``tools/data/prepare_recognition.py``, whose docstring (``--help``) lists
the files each dataset publishes and the layout expected under ``root``.

Each preparer ``k400`` / ``ssv2`` / ``ucf101`` / ``hmdb51`` reads ``root`` and returns
``(classes, {list file name: [(relative path, label), ...]})``;
:func:`prepare_recognition` runs one and writes its outputs into ``root``. A malformed
annotation stops with one :class:`UserError` naming the file and line.
"""
import glob
import os
import os.path as osp
import re
from typing import Dict, List, Tuple

from tqdm import tqdm

from mmstan.errors import UserError

from .annotation_files import (
    bad_entry,
    bad_line,
    first_existing,
    guess_delimiter,
    iter_csv,
    load_json,
    read_lines,
    require_annotation,
)

Lists = Dict[str, List[Tuple[str, int]]]
SCRIPT = 'prepare_recognition.py'

#: K400 annotation names per split: as published (cvdfoundation / DeepMind tarball), as
#: mmaction2's download_annotations.sh renames them, and the original release's.
K400_ANNOTATIONS = {'train': ('train.csv', 'kinetics_train.csv'),
                    'val': ('val.csv', 'validate.csv', 'kinetics_val.csv')}
K400_COLUMNS = ('label', 'youtube_id', 'time_start', 'time_end')


def _require(path: str) -> str:
    return require_annotation(path, SCRIPT)


def k400_folder_spellings(label: str) -> List[str]:
    """Class folder names to look for: mmaction2's rename (spaces to ``_``), its older
    rename (also brackets to ``-``), then the name as downloaded (spaces kept)."""
    underscored = label.replace(' ', '_')
    names = [underscored, underscored.replace('(', '-').replace(')', '-'), label]
    return list(dict.fromkeys(names))


def _k400_clip(path: str, line: int, row: dict) -> str:
    try:
        start, end = (int(float(row[k])) for k in ('time_start', 'time_end'))
    except ValueError:
        raise bad_line(path, line, f"time_start/time_end {row['time_start']!r}, {row['time_end']!r} "
                       'are not numbers; expected comma-separated columns '
                       f'{",".join(K400_COLUMNS)}') from None
    return f"{row['youtube_id']}_{start:06d}_{end:06d}.mp4"


def k400(root: str) -> Tuple[List[str], Lists]:
    ann = osp.join(root, 'annotations')
    rows = {}
    for split, names in K400_ANNOTATIONS.items():
        path = first_existing([osp.join(ann, n) for n in names], SCRIPT)
        rows[split] = (path, list(iter_csv(path, K400_COLUMNS)))
    classes = sorted({r['label'] for _, r in rows['train'][1]})
    index = {c: i for i, c in enumerate(classes)}
    lists = {}
    for split, (path, split_rows) in rows.items():
        video_dir = osp.join(root, f'videos_{split}')
        folders, on_disk, spaced = {}, {}, []
        for label in sorted({r['label'] for _, r in split_rows}):
            folder = next((f for f in k400_folder_spellings(label)
                           if osp.isdir(osp.join(video_dir, f))), None)
            if folder is not None:
                folders[label] = folder
                on_disk[label] = set(os.listdir(osp.join(video_dir, folder)))
                if ' ' in folder:
                    spaced.append(folder)
        if spaced:
            raise UserError(
                f'{video_dir}: {len(spaced)} class folders have spaces in their names (e.g. '
                f'"{spaced[0]}"), which mmaction2 video lists cannot hold (VideoDataset splits each '
                'line on spaces); rename them as mmaction2 does (tools/data/kinetics/'
                f'rename_classnames.sh), e.g. cd {video_dir} && for d in *\\ *; do mv "$d" '
                '"${d// /_}"; done, then run this again')
        items, missing = [], 0
        for line, r in tqdm(split_rows, desc=f'k400 {split}', unit='clip'):
            if r['label'] not in index:
                raise bad_line(path, line, f"class {r['label']!r} is not in the training annotation "
                               f"{rows['train'][0]}")
            name = _k400_clip(path, line, r)
            if name in on_disk.get(r['label'], ()):
                items.append((f"{folders[r['label']]}/{name}", index[r['label']]))
            else:
                missing += 1
        if not items:
            example = f"{k400_folder_spellings(split_rows[0][1]['label'])[0]}/" \
                      f"{_k400_clip(path, split_rows[0][0], split_rows[0][1])}"
            raise UserError(f'k400 {split}: none of the {len(split_rows)} clips of {path} is on disk '
                            f'under {video_dir} (looked for e.g. {example}); expected mmaction2\'s '
                            'layout videos_{train,val}/<class>/<youtube_id>_<start:06d>_<end:06d>.mp4')
        found = len({label for _, label in items})
        if missing:
            print(f'k400 {split}: {missing} of {len(split_rows)} clips not on disk, left out')
        print(f'k400 {split}: {len(items)} clips of {found} classes (of '
              f'{len({r["label"] for _, r in split_rows})} in {osp.basename(path)})')
        lists[f'kinetics400_{split}_list_videos.txt'] = items
    return classes, lists


def ssv2(root: str) -> Tuple[List[str], Lists]:
    ann = osp.join(root, 'annotations')
    labels_path = _require(osp.join(ann, 'something-something-v2-labels.json'))
    labels = load_json(labels_path, 'an object {"class name": "index"}')
    try:
        label_ids = {k: int(v) for k, v in labels.items()}
    except (AttributeError, TypeError, ValueError):
        raise UserError(f'{labels_path}: expected an object {{"class name": "index"}}') from None
    classes = [name for name, _ in sorted(label_ids.items(), key=lambda kv: kv[1])]
    lists = {}
    for split, out in (('train', 'train'), ('validation', 'val')):
        path = _require(osp.join(ann, f'something-something-v2-{split}.json'))
        expected = 'a list of {"id", "label", "template", "placeholders"} objects'
        entries = load_json(path, expected)
        if not isinstance(entries, list) or not entries:
            raise UserError(f'{path}: expected {expected} (not empty)')
        items = []
        for i, e in enumerate(tqdm(entries, desc=f'ssv2 {split}', unit='video'), 1):
            if not isinstance(e, dict) or not {'id', 'template'} <= set(e):
                raise bad_entry(path, i, f'{str(e)[:80]} lacks "id" or "template"; expected {expected}')
            template = e['template'].replace('[', '').replace(']', '')
            if template not in label_ids:
                raise bad_entry(path, i, f'template {template!r} (video {e["id"]}) is not a class '
                                f'of {labels_path}')
            items.append((f"{e['id']}.webm", label_ids[template]))
        lists[f'sthv2_{out}_list_videos.txt'] = items
    return classes, lists


def ucf101(root: str) -> Tuple[List[str], Lists]:
    ann = osp.join(root, 'annotations')
    class_file = _require(osp.join(ann, 'classInd.txt'))
    classes = []
    for line, text in read_lines(class_file, 'lines "<index> <ClassName>"'):
        parts = text.split()
        if len(parts) != 2 or parts[0] != str(len(classes) + 1):
            raise bad_line(class_file, line, f'{text!r}: expected "{len(classes) + 1} <ClassName>" '
                           f'(space-separated, indices from 1 in order){guess_delimiter(text, " ")}')
        classes.append(parts[1])
    index = {c: i for i, c in enumerate(classes)}
    lists = {}
    for split in (1, 2, 3):
        for kind, out, fields in (('train', 'train', 2), ('test', 'val', 1)):
            path = osp.join(ann, f'{kind}list0{split}.txt')
            if not osp.isfile(path):
                continue
            expected = ('"<Class>/<name>.avi <label>"' if fields == 2 else '"<Class>/<name>.avi"') + \
                ' (space-separated)'
            items = []
            for line, text in read_lines(path, f'lines {expected}'):
                parts = text.split()
                if len(parts) != fields or '/' not in parts[0]:
                    raise bad_line(path, line, f'{text!r}: expected {expected}{guess_delimiter(text, " ")}')
                cls = parts[0].split('/')[0]
                if cls not in index:
                    raise bad_line(path, line, f'class folder {cls!r} is not in {class_file}')
                items.append((parts[0], index[cls]))
            lists[f'ucf101_{out}_split_{split}_videos.txt'] = items
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
    expected = 'lines "<name>.avi <0|1|2>" (space-separated; 1 train, 2 test, 0 unused)'
    lists: Lists = {}
    for path in files:
        cls, split = pattern.match(osp.basename(path)).groups()
        for line, text in read_lines(path, expected):
            parts = text.split()
            if len(parts) != 2 or parts[1] not in ('0', '1', '2'):
                raise bad_line(path, line, f'{text!r}: expected {expected}{guess_delimiter(text, " ")}')
            if parts[1] == '0':
                continue
            out = 'train' if parts[1] == '1' else 'val'
            lists.setdefault(f'hmdb51_{out}_split_{split}_videos.txt', []).append(
                (f'{cls}/{parts[0]}', index[cls]))
    return classes, lists


PREPARERS = dict(k400=k400, ssv2=ssv2, ucf101=ucf101, hmdb51=hmdb51)


def prepare_recognition(dataset: str, root: str) -> Tuple[List[str], Lists]:
    """Read ``dataset``'s annotations under ``root`` and write its video lists and
    ``label_map.txt`` there; returns ``(classes, lists)``."""
    classes, lists = PREPARERS[dataset](root)
    empty = [name for name, items in lists.items() if not items]
    if not lists or empty:
        raise UserError(f'{dataset}: no video for {", ".join(empty) or "any list"} in the '
                        f'annotations under {root}; see the docstring of tools/data/{SCRIPT}')
    with open(osp.join(root, 'label_map.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    for name, items in lists.items():
        with open(osp.join(root, name), 'w') as f:
            f.writelines(f'{rel} {label}\n' for rel, label in items)
        print(f'wrote {len(items)} videos to {osp.join(root, name)}')
    print(f'wrote {len(classes)} classes to {osp.join(root, "label_map.txt")}')
    return classes, lists
