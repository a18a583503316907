"""Download open_clip pretrained weights into a folder (run on a machine with internet).

    python tools/download_clip.py ViT-B-16 openai --out checkpoints/

Then copy the printed file to the offline machine and set, in the config,
``model.backbone.pretrained='/path/to/that/file'``.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

import open_clip  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('arch', help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('tag', help='pretrained tag, e.g. openai or laion2b_s34b_b88k')
    parser.add_argument('--out', default='checkpoints', help='folder to download into')
    args = parser.parse_args(argv)
    cfg = open_clip.get_pretrained_cfg(args.arch, args.tag)
    if not cfg:
        known = ', '.join(tag for name, tag in open_clip.list_pretrained() if name == args.arch)
        raise SystemExit(f'error: no pretrained tag {args.tag!r} for {args.arch}; known: {known}')
    path = open_clip.download_pretrained(cfg, cache_dir=args.out)  # shows a progress bar
    print(path)


if __name__ == '__main__':
    main()
