"""Convert an official STAN / Mug-STAN retrieval checkpoint (github farewellthree/STAN,
``CLIPSimilarity_split``) into a ``VideoTextRetriever`` checkpoint.

    python tools/model_converters/stan_official_to_retriever.py official.bin out.pth

Then test or fine-tune with ``load_from='out.pth'`` and a config whose model is
``VideoTextRetriever(clip=dict(arch=<the same CLIP>-quickgelu, ...),
backbone=dict(type='CLIPSTAN', preset='official', num_layers=4))`` (the official weights
come from OpenAI's CLIP, which uses QuickGELU). The official Mug head has no parameters;
the logit scale stays the config's (``1 / tau``). Every key of the file must convert:
otherwise the keys that did not are printed and the tool exits with status 1.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.models.converter_io import check_unmatched, fail, print_target, read, write  # noqa: E402
from mmstan.models.official_checkpoint import convert_official_retriever, official_target  # noqa: E402

LAYOUT = 'an official STAN retriever (backbone., text_backbone., adapter.)'


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.bin / .pth / .safetensors)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    args = parser.parse_args(argv)
    state = read(args.src, 'the official checkpoint')
    try:
        converted, unmatched = convert_official_retriever(state)
    except KeyError as err:
        fail(f'{args.src} is not {LAYOUT}: {err.args[0]}')
    check_unmatched(args.src, unmatched, LAYOUT)
    print_target(official_target(state), retriever=True)
    write(args.dst, converted, dict(converted_from=args.src, layout='farewellthree/STAN CLIPSimilarity_split',
                                    target="VideoTextRetriever with CLIPSTAN(preset='official')"))


if __name__ == '__main__':
    main()
