"""Recognise the action in a video: print the top-5 classes with their scores.

    python demo/demo_recognition.py CONFIG CHECKPOINT VIDEO [--label-map FILE] [--device cpu]

CONFIG is any recognition config (``configs/stan/k400.py``, ``configs/mugstan/k400.py``,
``configs/mugstan/zeroshot_k400.py``, ...); CHECKPOINT a local file or an http(s) URL
(verified download); VIDEO any file decord reads. The video goes through the config's
test pipeline (its frames, crops and views). Class names come from ``--label-map`` (one
per line, mmaction2's ``label_map_*.txt``), else from the model's class-name head
(Mug-STAN and zero-shot configs), else classes are shown by index. A class-name head
(``TextClassHead``) scores the ``--label-map`` names themselves: zero-shot recognition
over any list of names.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='recognition config file')
    parser.add_argument('checkpoint', help='checkpoint file or http(s) URL')
    parser.add_argument('video', help='video file')
    parser.add_argument('--label-map', help='class names, one per line')
    parser.add_argument('--top-k', type=int, default=5, help='how many classes to print')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value overrides of the config')
    return parser.parse_args(argv)


def class_names(cfg, label_map=None):
    """Class names from ``label_map`` (one per line, an optional leading id), else from
    the model's class-name head (``cls_head.classes``), else None."""
    from mmstan.models.heads.text_class_head import read_class_names

    if label_map:
        return read_class_names(label_map)
    classes = cfg.model.get('cls_head', {}).get('classes')
    return read_class_names(classes) if classes else None


def recognize(args: argparse.Namespace) -> list:
    """``[(class name, score)]``, best first, ``args.top_k`` of them."""
    from mmstan.apis import init_model, recognize
    from mmstan.errors import UserError
    from mmstan.utils.cli import load_config

    cfg = load_config(args.config, args.cfg_options)
    names = class_names(cfg, args.label_map)
    if args.label_map and cfg.model.get('cls_head', {}).get('type') == 'TextClassHead':
        cfg.model.cls_head.classes = names  # class-name heads score whatever names are given
    model = init_model(cfg, args.checkpoint, args.device)
    scores = recognize(model, args.video)
    if names is not None and len(names) != scores.numel():
        raise UserError(f'{len(names)} class names for a model with {scores.numel()} classes; '
                        'give the matching --label-map')
    top = scores.topk(min(args.top_k, scores.numel()))
    return [(names[i] if names else f'class {i}', float(s))
            for s, i in zip(top.values.tolist(), top.indices.tolist())]


def main(argv=None) -> None:
    from mmstan.utils.cli import run_or_explain

    args = parse_args(argv)
    results = []
    run_or_explain(lambda: results.extend(recognize(args)))
    print(f'top-{len(results)} for {args.video}:')
    for rank, (name, score) in enumerate(results, 1):
        print(f'{rank}. {name}: {score:.4f}')


if __name__ == '__main__':
    main()
