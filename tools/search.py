"""Text-to-video search over a folder of videos with a trained retrieval model.

    # index a folder (or the videos of a caption annotation) into an on-disk index
    python tools/search.py index CONFIG CHECKPOINT --videos data/msrvtt/videos --out work_dirs/msrvtt_index
    python tools/search.py index CONFIG CHECKPOINT --ann data/msrvtt/test_1k.json \\
        --video-root data/msrvtt/videos --out work_dirs/msrvtt_index
    # search: stage 1 by pooled embeddings (FAISS), stage 2 re-ranked by the model's head
    python tools/search.py query work_dirs/msrvtt_index "a man is cooking" --top-k 5
    # retrieval metrics of an annotation on the same index: exact vs two-stage
    python tools/search.py query work_dirs/msrvtt_index --eval data/msrvtt/test_1k.json

Indexing shows a progress bar, is resumable (rerun the same command after a kill: the
videos already committed are not encoded again) and skips unreadable videos, naming them.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os.path as osp  # noqa: E402

from mmstan.utils.cli import load_config, require_checkpoint, run_or_explain  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    index = sub.add_parser('index', help='encode videos into an index folder')
    index.add_argument('config', help='retrieval config (VideoTextRetriever)')
    index.add_argument('checkpoint', help='checkpoint file or URL')
    source = index.add_mutually_exclusive_group(required=True)
    source.add_argument('--videos', help='folder of videos (searched recursively)')
    source.add_argument('--ann', help='caption annotation JSON whose videos to index')
    index.add_argument('--video-root', default='', help='folder the --ann video names are under')
    index.add_argument('--out', required=True, help='index folder (resumed if it exists)')
    index.add_argument('--batch-size', type=int, help="videos per forward (default: the config's test batch)")
    index.add_argument('--workers', type=int, help="decoding processes (default: the config's test loader)")
    index.add_argument('--shard-size', type=int, default=64,
                       help='videos per committed shard: at most this many are redone after a kill')
    index.add_argument('--device', help='cpu, cuda, cuda:1 (default: cuda if available)')
    index.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')

    query = sub.add_parser('query', help='search an index with captions, or evaluate it')
    query.add_argument('index', help='index folder made by `index`')
    query.add_argument('text', nargs='*', help='one or more captions to search for')
    query.add_argument('--top-k', type=int, default=10, help='videos shown per caption')
    query.add_argument('--rerank', type=int, default=50,
                       help='stage-1 candidates the head re-ranks (0: stage 1 only)')
    query.add_argument('--eval', metavar='ANNOTATION',
                       help='caption JSON: print exact and two-stage retrieval metrics on the index')
    query.add_argument('--checkpoint', help='the checkpoint the index was built with, if it moved')
    query.add_argument('--device', help='cpu, cuda, cuda:1 (default: cuda if available)')
    query.add_argument('--threads', type=int,
                       help='CPU threads of torch and FAISS (1 is fastest for single queries on a busy CPU)')
    args = parser.parse_args(argv)
    if args.command == 'query' and not args.text and not args.eval:
        query.error('give a caption to search for, or --eval ANNOTATION')
    if args.command == 'query' and args.rerank < 0:
        query.error('--rerank must be >= 0')
    return args


def _device(name):
    import torch
    return name or ('cuda' if torch.cuda.is_available() else 'cpu')


def build_index(args) -> None:
    from mmstan.search import (
        SearchModel,
        checkpoint_identity,
        index_meta,
        index_videos,
        videos_in_annotation,
        videos_in_folder,
    )

    cfg = load_config(args.config, args.cfg_options)
    require_checkpoint(args.checkpoint)
    ident = checkpoint_identity(args.checkpoint)
    if args.videos:
        videos, source = videos_in_folder(args.videos), osp.abspath(args.videos)
    else:
        videos = videos_in_annotation(args.ann, args.video_root)
        source = f'{osp.abspath(args.ann)} under {osp.abspath(args.video_root or ".")}'
    model = SearchModel.from_config(cfg, ident['path'], _device(args.device))
    loader = cfg.get('test_dataloader', {})
    run = index_videos(
        args.out, model, videos, index_meta(model, ident['sha256'], source),
        batch_size=args.batch_size or loader.get('batch_size', 8),
        shard_size=args.shard_size,
        num_workers=loader.get('num_workers', 0) if args.workers is None else args.workers,
        info=dict(checkpoint=ident, config=osp.abspath(args.config)))
    print(f'indexed {run.added} videos now, {run.already} were already in {args.out} '
          f'({run.already + run.added} of {run.total})')
    if run.skipped:
        print(f'skipped {len(run.skipped)} unreadable videos (tried again on the next run):')
        for key, why in run.skipped.items():
            print(f'  {key}: {why}')


def open_index(args):
    from mmstan.errors import UserError
    from mmstan.search import SearchModel, VideoIndex, checkpoint_identity, update_stage1
    from mmstan.search.search_model import config_sha256

    index = VideoIndex.open(args.index)
    known = index.info.get('checkpoint', {})
    path = args.checkpoint or known.get('path')
    if not path:
        raise UserError(f'{args.index}/manifest.json names no checkpoint; pass --checkpoint')
    ident = checkpoint_identity(path, known)
    if ident['sha256'] != index.meta['checkpoint_sha256']:
        raise UserError(f'{ident["path"]} is not the checkpoint {args.index} was built with '
                        f'(sha256 {ident["sha256"][:12]} vs {index.meta["checkpoint_sha256"][:12]}); '
                        'pass that one with --checkpoint, or rebuild the index')
    cfg = load_config(osp.join(args.index, 'config.py'))
    if config_sha256(cfg) != index.meta['config_sha256']:
        raise UserError(f'{args.index}/config.py differs from the config the index was built with; '
                        'restore it or rebuild the index')
    model = SearchModel.from_config(cfg, ident['path'], _device(args.device))
    if update_stage1(index, model.head):  # an index of an older mmstan: same model, older rule
        print(f'note: recomputed the stage-1 vectors of {args.index} ({index.meta["stage1"]})')
    return index, model


def run_query(args) -> None:
    from mmstan.search import Timing, evaluate_index, search

    if args.threads:
        import faiss
        import torch

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    index, model = open_index(args)
    index.faiss_index()  # read before the timed search
    if index.skipped:
        print(f'note: {len(index.skipped)} unreadable videos are not in the index: '
              f'{", ".join(list(index.skipped)[:5])}')
    if args.text:
        tokens, mask, pooled = model.encode_texts(args.text)
        timing = Timing()
        results = search(index, model.head, tokens, mask, pooled, args.top_k, args.rerank, timing)
        per = 1000 / len(args.text)
        for text, hits in zip(args.text, results):
            print(f'"{text}"')
            for rank, hit in enumerate(hits, 1):
                print(f'  {rank:3d}. {hit.score:8.4f}  {hit.key}  (stage 1: {hit.pooled_score:.4f})')
        stage_two = f'{timing.stage_two * per:.2f} ms re-ranking {min(args.rerank, len(index))}' \
            if args.rerank else 'off'
        print(f'{len(index)} videos; per query: stage 1 {timing.stage_one * per:.2f} ms, '
              f'stage 2 {stage_two}')
    if args.eval:
        ev = evaluate_index(index, model, args.eval, args.rerank)
        print(f'gallery: {ev.videos} videos, {ev.captions} captions ({args.eval}, index {args.index})')
        t2v = [k for k in ev.exact if k.startswith('t2v/')]
        print('exact     ' + '  '.join(f'{k} {ev.exact[k]:.2f}' for k in t2v)
              + f'  (head over the whole gallery, {ev.seconds["exact"]:.2f} s)')
        print('two-stage ' + '  '.join(f'{k} {ev.two_stage[k]:.2f}' for k in t2v)
              + f'  (stage 1 top-{ev.rerank} {ev.seconds["stage_one"]:.2f} s + head '
              f'{ev.seconds["stage_two"]:.2f} s)')
        print(f'stage 1 kept the exact best video for {ev.top1_found:.1f}% of captions')
        print('exact     ' + '  '.join(f'{k} {v:.2f}' for k, v in ev.exact.items()
                                       if k.startswith('v2t/')))


def main(argv=None) -> None:
    args = parse_args(argv)

    def run():
        import mmstan  # noqa: F401  (registration)

        build_index(args) if args.command == 'index' else run_query(args)

    run_or_explain(run)


if __name__ == '__main__':
    main()
