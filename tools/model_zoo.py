"""The model zoo: ``model-index.yml`` -> ``configs/*/metafile.yml`` (mmaction2's format)
-> the model-zoo table of docs/model_zoo.md.

    python tools/model_zoo.py             # print the table
    python tools/model_zoo.py --write     # write it into docs/model_zoo.md (between the markers)
    python tools/model_zoo.py --check     # exit 1 if docs/model_zoo.md and the metafiles disagree
    python tools/model_zoo.py --measure [CONFIG ...]   # recount FLOPs / parameters into the metafiles

``--measure`` counts with the functions of ``tools/analysis/get_flops.py`` (PyTorch's
FlopCounterMode, multiply-accumulates per view, random weights, no download); class-name
heads are given placeholder names of the right count and encode them before counting, so
the count is the per-video cost, not the one-off text encoding. The reading, rendering
and counting are :mod:`mmstan.analysis.model_zoo`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os.path as osp  # noqa: E402
import sys  # noqa: E402

from mmstan.analysis import model_zoo as zoo  # noqa: E402
from mmstan.utils.paths import REPO_ROOT  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--write', action='store_true', help='write the table into docs/model_zoo.md')
    group.add_argument('--check', action='store_true', help='fail if docs/model_zoo.md differs')
    group.add_argument('--measure', nargs='*', metavar='CONFIG',
                       help='recount FLOPs/parameters (all configs, or these) into the metafiles')
    args = parser.parse_args(argv)
    if args.measure is not None:
        zoo.update_measurements(args.measure or None)
        return 0
    table = zoo.render_table()
    if args.write:
        zoo.write_doc(table)
        print(f'wrote the model-zoo table ({table.count(chr(10)) - 1} models) into '
              f'{osp.relpath(zoo.ZOO_DOC, REPO_ROOT)}')
    elif args.check:
        if zoo.doc_table() != table:
            print(f'error: the model-zoo table of {osp.relpath(zoo.ZOO_DOC, REPO_ROOT)} differs from the '
                  'metafiles; run python tools/model_zoo.py --write', file=sys.stderr)
            return 1
        print(f'the model-zoo table of {osp.relpath(zoo.ZOO_DOC, REPO_ROOT)} matches the metafiles')
    else:
        print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
