"""Video-text retrieval: rank captions for a video, or videos for a caption.

    python demo/demo_retrieval.py CONFIG CHECKPOINT VIDEO --text "caption one" "caption two" ...
    python demo/demo_retrieval.py CONFIG CHECKPOINT --videos a.mp4 b.mp4 ... --text "a caption"

CONFIG is a retrieval config (``configs/mugstan/msrvtt.py``, ``configs/stan/msrvtt.py``,
the zero-shot ones, ...); CHECKPOINT a local file or an http(s) URL (verified download).
Videos go through the config's test pipeline and captions through its caption pipeline,
each encoded once; the scores are the model's own head (Mug, mean-pooled cosine, ...), as
``tools/test.py`` scores a test set.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='retrieval config file')
    parser.add_argument('checkpoint', help='checkpoint file or http(s) URL')
    parser.add_argument('video', nargs='?', help='the video whose captions are ranked')
    parser.add_argument('--text', nargs='+', required=True, metavar='CAPTION',
                        help='captions to rank (with VIDEO), or the caption(s) whose videos are '
                        'ranked (with --videos)')
    parser.add_argument('--videos', nargs='+', metavar='VIDEO', help='videos to rank for each caption')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value overrides of the config')
    args = parser.parse_args(argv)
    if (args.video is None) == (args.videos is None):
        parser.error('give either VIDEO (to rank captions) or --videos (to rank videos)')
    return args


def similarity(args: argparse.Namespace):
    """``(scores [captions, videos], videos)``: videos and captions encoded once each and
    scored by the model's own head, as the retrieval test loop (tools/test.py) does."""
    from mmstan.apis import encode_texts, encode_videos, init_model, score
    from mmstan.errors import UserError
    from mmstan.utils.cli import load_config

    cfg = load_config(args.config, args.cfg_options)
    videos = args.videos or [args.video]
    model = init_model(cfg, args.checkpoint, args.device)
    if not hasattr(model, 'score'):
        raise UserError(f'{args.config} builds a {type(model).__name__}, not a video-text '
                        'retrieval model: use demo/demo_recognition.py')
    frames = encode_videos(model, videos)
    text = encode_texts(model, args.text)
    return score(model, text, frames), videos


def main(argv=None) -> None:
    from mmstan.utils.cli import run_or_explain

    args = parse_args(argv)
    out = []
    run_or_explain(lambda: out.append(similarity(args)))
    scores, videos = out[0]
    if args.videos is None:
        print(f'captions ranked for {args.video}:')
        order = scores[:, 0].argsort(descending=True).tolist()
        for rank, i in enumerate(order, 1):
            print(f'{rank}. {float(scores[i, 0]):.4f}  {args.text[i]}')
        return
    for c, caption in enumerate(args.text):
        print(f'videos ranked for "{caption}":')
        order = scores[c].argsort(descending=True).tolist()
        for rank, i in enumerate(order, 1):
            print(f'{rank}. {float(scores[c, i]):.4f}  {videos[i]}')


if __name__ == '__main__':
    main()
