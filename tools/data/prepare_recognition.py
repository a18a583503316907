"""Turn each recognition dataset's own annotation files into mmaction2 video lists
(``relative/path.ext label``) and a label map (one class name per line, index = label).

    python tools/data/prepare_recognition.py k400   --root data/kinetics400
    python tools/data/prepare_recognition.py ssv2   --root data/sthv2
    python tools/data/prepare_recognition.py ucf101 --root data/ucf101
    python tools/data/prepare_recognition.py hmdb51 --root data/hmdb51

Expected inputs under ``--root`` (as the datasets ship them):

- k400: ``annotations/{train,val}.csv`` (comma separated, header
  ``label,youtube_id,time_start,time_end,split``); the same files under the names
  mmaction2's ``download_annotations.sh`` gives them (``kinetics_{train,val}.csv``) or the
  original release's ``validate.csv`` are read too. Videos in mmaction2's downloader layout
  ``videos_{train,val}/<class>/<youtube_id>_<start:06d>_<end:06d>.mp4``, where ``<class>`` is
  the folder as mmaction2's ``rename_classnames.sh`` leaves it (``air_drumming``; its older
  version also turned brackets into ``-``). Class folders that still contain spaces
  (``air drumming``) are an error: mmaction2's ``VideoDataset`` splits each list line on
  spaces, so run the rename step first. Clips missing on disk are left out and counted; a
  split with no clip on disk is an error. ``label_map.txt`` keeps the natural class names
  (``air drumming``), in the order of mmaction2's ``label_map_k400.txt``.
- ssv2: ``annotations/something-something-v2-{labels,train,validation}.json`` and
  ``videos/<id>.webm``.
- ucf101: ``annotations/classInd.txt``, ``annotations/{train,test}list0{1,2,3}.txt`` and
  ``videos/<Class>/<name>.avi``.
- hmdb51: ``annotations/<class>_test_split{1,2,3}.txt`` (``name.avi 1|2|0``: train, test,
  unused) and ``videos/<class>/<name>.avi``.

Outputs (in ``--root``): the list files the configs in ``configs/_base_/datasets/`` name,
and ``label_map.txt``. A malformed annotation (wrong delimiter, missing column, unknown
class or id) stops with one ``error:`` line naming the file and line. The readers are
:mod:`mmstan.datasets.preparation.recognition`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os  # noqa: E402

from mmstan.datasets.preparation.recognition import PREPARERS, prepare_recognition  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=sorted(PREPARERS))
    parser.add_argument('--root', required=True, help='dataset folder (see the docstring)')
    args = parser.parse_args(argv)
    prepare_recognition(args.dataset, args.root)


if __name__ == '__main__':
    from mmstan.utils.cli import run_or_explain

    os.umask(0o022)
    run_or_explain(main)
