"""Convert each video-text dataset's public annotation files into mmstan's caption JSON
(``{"video.mp4": ["caption", ...]}``, or a ``[{"video", "caption"}]`` list for WebVid),
read by ``VideoCaptionDataset``.

    python tools/data/prepare_retrieval.py msrvtt --root data/msrvtt
    python tools/data/prepare_retrieval.py didemo --root data/didemo
    python tools/data/prepare_retrieval.py lsmdc  --root data/lsmdc
    python tools/data/prepare_retrieval.py msvd   --root data/msvd
    python tools/data/prepare_retrieval.py webvid --root data/webvid   # WebVid-10M CSV

Expected inputs under ``--root/annotations`` (the files the datasets publish):

- msrvtt: the three files of CLIP4Clip's ``msrvtt_data.zip``
  (github.com/ArrowLuo/CLIP4Clip/releases/download/v0.0/msrvtt_data.zip, the 1k-A split of
  JSFusion): ``MSRVTT_data.json`` (``sentences: [{video_id, caption}]``),
  ``MSRVTT_train.9k.csv`` (``video_id`` column) and ``MSRVTT_JSFUSION_test.csv``
  (``key,vid_key,video_id,sentence``) -> ``train_9k.json`` (all 20 captions per video),
  ``test_1k.json`` (the 1k-A split, one caption each). Without ``MSRVTT_data.json``, what
  mmaction2 prepares is converted instead (in ``--root`` or ``--root/annotations``):
  ``train_9k.json`` and ``test_JSFUSION.json`` of ``tools/data/video_retrieval/prepare_msrvtt.py``
  (``{"video0.mp4": [captions]}``), or ``msrvtt_ret_train9k.json`` and
  ``msrvtt_ret_test1k.json`` of ``tools/data/msrvtt`` (``[{video, caption}]``).
- didemo: ``{train,val,test}_data.json`` (``[{video, description}]``) -> ``{split}.json``
  (all descriptions per video; the configs concatenate them into one paragraph). The
  annotations name each video as uploaded (``<id>.mov``, ``.avi``, ``.3gp``, ``.mpg``, some
  ending in a bare ``.``), while download scripts save ``<name>.mp4`` (LocalizingMoments'
  ``download_videos_AWS.py``: ``x.mov.mp4``) or ``<stem>.mp4`` (``x.mp4``); ``--video-names``
  chooses (default ``auto``: per video, whichever exists under ``--root/videos``), and the
  number of annotated videos missing on disk is reported (the public ``test_data.json`` lists
  1037 videos; CLIP4Clip and later papers report on the 1004 still available).
- lsmdc: ``LSMDC16_annos_{training,val}.csv`` and the 1,000-clip retrieval benchmark
  ``LSMDC16_challenge_1000_publictect.csv`` (tab separated, no header: clip id, start
  aligned, end aligned, start extracted, end extracted, sentence) -> ``train.json``,
  ``val.json``, ``test_1k.json`` (the benchmark STAN, CLIP4Clip and Frozen report on); the
  ~10k-sentence public test ``LSMDC16_annos_test.csv``, when present, -> ``test_10k.json``.
  Videos are ``<movie>/<clip id>.avi``.
- msvd: ``raw-captions.pkl`` (``{name: [[word, ...], ...]}``), ``{train,val,test}_list.txt``
  -> ``{split}.json`` (every caption; retrieval then scores t2v per caption and v2t per video).
- webvid: a WebVid CSV (``videoid``, ``name``, ``page_dir``) -> ``{csv stem}.json`` list.

A malformed file (wrong delimiter, missing column, unknown video id, no rows) stops with one
``error:`` line naming the file, the line and what was expected. The readers are
:mod:`mmstan.datasets.preparation.retrieval`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.datasets.preparation.retrieval import DIDEMO_NAMES, PREPARERS, prepare_retrieval  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=sorted(PREPARERS))
    parser.add_argument('--root', required=True)
    parser.add_argument('--csv', default='results_10M_train.csv',
                        help='WebVid CSV (WebVid-10M; results_2M_train.csv for WebVid-2.5M)')
    parser.add_argument('--video-names', default='auto', choices=['auto', *DIDEMO_NAMES],
                        help='DiDeMo: file name of an annotated video x.mov under --root/videos: '
                        'as-annotated (x.mov), name.mp4 (x.mov.mp4, LocalizingMoments\' AWS script), '
                        'stem.mp4 (x.mp4), or auto (whichever exists, per video)')
    args = parser.parse_args(argv)
    prepare_retrieval(args.dataset, args.root, csv_name=args.csv, video_names=args.video_names)


if __name__ == '__main__':
    from mmstan.utils.cli import run_or_explain

    run_or_explain(main)
