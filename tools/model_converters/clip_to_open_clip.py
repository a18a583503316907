"""Check an OpenAI or open_clip CLIP checkpoint against an open_clip architecture and
write it as a plain state dict that loads with ``weights_only=True``.

    python tools/model_converters/clip_to_open_clip.py ViT-B-16.pt ViT-B-16 out.pth

SRC may be OpenAI's TorchScript release (``ViT-B-16.pt``), a plain OpenAI or open_clip
state dict (``.pt`` / ``.pth`` / ``.bin``, optionally inside ``state_dict``) or
safetensors. Every key of SRC must be a weight of ARCH and every weight of ARCH must be in
SRC: otherwise the keys that differ are printed and the tool exits with status 1, nothing
written. OpenAI's metadata keys (``input_resolution``, ``context_length``, ``vocab_size``)
are kept, so the output still switches the model to QuickGELU as the original does. Use
the output as ``pretrained='out.pth'`` (``model.clip`` or a backbone); the configs also
read SRC directly, this tool makes a TorchScript file weights-only and checks it offline.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import logging  # noqa: E402

from mmstan.errors import UserError  # noqa: E402
from mmstan.models.clip.weights import OPENAI_META_KEYS, create_clip, is_openai_format  # noqa: E402
from mmstan.models.converter_io import check_unmatched, fail, read, write  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='OpenAI / open_clip CLIP checkpoint')
    parser.add_argument('arch', help='open_clip architecture name (ViT-B-32, ViT-B-16, ViT-L-14, ...)')
    parser.add_argument('dst', help='output state dict (.pth)')
    args = parser.parse_args(argv)
    state = read(args.src, 'the CLIP checkpoint')
    openai = is_openai_format(state)
    logging.disable(logging.WARNING)  # open_clip's "no pretrained weights loaded": none wanted
    try:
        expected = create_clip(args.arch, quick_gelu=openai).state_dict()
    except UserError as err:
        fail(str(err))
    finally:
        logging.disable(logging.NOTSET)
    weights = {k: v for k, v in state.items() if k not in OPENAI_META_KEYS}
    unmatched = sorted(set(weights) ^ set(expected))
    unmatched += sorted(k for k in set(weights) & set(expected) if weights[k].shape != expected[k].shape)
    check_unmatched(args.src, unmatched, f'open_clip {args.arch} (missing, extra or misshapen)')
    print(f'{"OpenAI" if openai else "open_clip"} layout, {len(weights)} weights of {args.arch}'
          f'{" (QuickGELU)" if openai else ""}')
    write(args.dst, state, None)


if __name__ == '__main__':
    main()
