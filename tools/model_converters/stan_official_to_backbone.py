"""Convert the video tower of an official STAN / Mug-STAN checkpoint (github
farewellthree/STAN, ``VITCLIPPretrained_STAN``) into ``CLIPSTAN(preset='official')``
weights, e.g. to fine-tune it for recognition.

    python tools/model_converters/stan_official_to_backbone.py official.bin out.pth

The output's keys are ``backbone.<CLIPSTAN key>``, so ``load_from='out.pth'`` fills the
backbone of a recognizer whose backbone is ``CLIPSTAN(arch=<the same CLIP>-quickgelu,
preset='official', num_layers=4)`` (heads start fresh). The text tower (``text_backbone.``)
and head (``adapter.``) are left out and counted; any other key that does not convert is
printed and the tool exits with status 1. ``--prefix ''`` reads a bare backbone state dict.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.models.converter_io import check_unmatched, describe, fail, print_target, read, write  # noqa: E402
from mmstan.models.official_checkpoint import VISION_PREFIX, convert_official_backbone, official_target  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.bin / .pth / .safetensors)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--prefix', default=VISION_PREFIX,
                        help="where the official backbone's keys are ('' for a bare backbone)")
    args = parser.parse_args(argv)
    layout = f'an official STAN video backbone (under {args.prefix!r})'
    state = read(args.src, 'the official checkpoint')
    try:
        converted, unmatched, skipped = convert_official_backbone(state, args.prefix)
    except KeyError as err:
        fail(f'{args.src} is not {layout}: {err.args[0]}')
    check_unmatched(args.src, unmatched, layout)
    describe(skipped, 'the text tower and head')
    print_target(official_target(state, args.prefix), retriever=False)
    write(args.dst, {f'backbone.{k}': v for k, v in converted.items()},
          dict(converted_from=args.src, layout='farewellthree/STAN VITCLIPPretrained_STAN',
               target="CLIPSTAN(preset='official')"))


if __name__ == '__main__':
    main()
