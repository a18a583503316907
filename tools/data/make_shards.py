"""Pack videos and captions into webdataset tar shards with indexes, or index the tars
video2dataset wrote, for ``ShardedVideoCaptionDataset`` (WebVid at scale).

    # our caption JSON (tools/data/prepare_retrieval.py webvid) or the WebVid CSV itself
    python tools/data/make_shards.py write --captions data/webvid/results_10M_train.json \\
        --videos data/webvid/videos --out data/webvid/shards --samples-per-shard 1000 --workers 8
    # WebVid downloaded with video2dataset (--output-format webdataset): index in place
    python tools/data/make_shards.py index data/webvid/shards --workers 8

``write`` names and leaves out videos decord cannot open, shows a progress bar per shard
and resumes: a shard whose index exists is finished and kept (re-run the same command
after an interruption). Each shard ``NNNNN.tar`` gets ``NNNNN.tar.idx.json`` (key, offset,
size and captions of each sample; see mmstan/datasets/shard_index.py). ``index`` reads only
tar headers and captions; ``--force`` rebuilds existing indexes.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.datasets.preparation.shards import index_shards, write_shards  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    write = commands.add_parser('write', help='pack videos + captions into indexed tar shards')
    write.add_argument('--captions', required=True,
                       help='caption JSON (prepare_retrieval.py) or a WebVid CSV (videoid,name,page_dir)')
    write.add_argument('--videos', required=True, help='folder of the videos the caption file names')
    write.add_argument('--out', required=True, help='folder of the shards')
    write.add_argument('--samples-per-shard', type=int, default=1000)
    write.add_argument('--workers', type=int, default=1, help='processes writing shards in parallel')
    index = commands.add_parser('index', help='index existing tars (video2dataset output) in place')
    index.add_argument('shards', help='folder of .tar files, or a glob such as "shards/*.tar"')
    index.add_argument('--force', action='store_true', help='rebuild existing indexes')
    index.add_argument('--workers', type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == 'write':
        write_shards(args.captions, args.videos, args.out, args.samples_per_shard, args.workers)
    else:
        index_shards(args.shards, force=args.force, workers=args.workers)


if __name__ == '__main__':
    from mmstan.utils.cli import run_or_explain

    run_or_explain(main)
