"""Configs that load a checkpoint, the config that trains it, and both frame counts.

    python tools/analysis/frame_count_table.py [CONFIG ...]

A config loads a checkpoint when it sets ``load_from`` or an ``init_cfg`` of type
``Pretrained``, or when its metafile entry's 'Pretrained' names the config that trains
its weights (the test-only zero-shot configs: ``tools/test.py CONFIG CKPT``). Every such
config must name its source config in its metafile. For each pair the table gives the
frames both store their temporal position embedding for and the max |difference| between
the target's loaded ``temporal_pos`` and the source model's ``temporal_embedding(target
frames)``, measured on tiny random-weight builds of both configs (the source saved, then
loaded with mmengine's ``load_checkpoint``, as ``load_from`` and ``tools/test.py`` do),
and whether loading reported a size mismatch. The table is printed after the loads' log
lines. The measurement is :mod:`mmstan.analysis.frame_count_table`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
from typing import List  # noqa: E402

from mmstan.analysis.frame_count_table import format_table, frame_count_rows  # noqa: E402


def main(argv=None) -> List[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', help='only these configs (default: all)')
    args = parser.parse_args(argv)
    rows = frame_count_rows(args.configs or None)
    print(format_table(rows))
    return rows


if __name__ == '__main__':
    main()
