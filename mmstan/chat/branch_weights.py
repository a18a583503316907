"""The STAN branch of a Mug-STAN checkpoint, for the video tower of STAN-LLaVA.

Only the branch moves into the chatbot ([M] §IV-F: "we incorporate the pretrained branch
networks into the visual backbone" of a chatbot whose CLIP stays frozen): the
checkpoint's own CLIP, text tower and head are left out. Both layouts are read: mmstan's
(a ``VideoTextRetriever`` / recognizer checkpoint, ``backbone.stan.*``, or a bare
``CLIPSTAN``, ``stan.*``) and the official code's (``STAN_S_layers`` / ``STAN_T_layers``
/ ``STAN_time_embed``, converted by :mod:`mmstan.models.official_checkpoint`).
"""
import re
from typing import Dict, List, Tuple

from torch import Tensor

from mmstan.errors import UserError
from mmstan.models.official_checkpoint import convert_official_backbone

#: What an error about the Mug-STAN checkpoint asks for.
HINT = 'give a Mug-STAN checkpoint (mmstan or official layout) with a STAN branch'


def branch_state(state: Dict[str, Tensor], source: str = 'checkpoint'
                 ) -> Tuple[Dict[str, Tensor], List[str]]:
    """``(branch, left_out)``: the branch's weights as ``CLIPSTAN`` keys (``stan.*``) and
    the checkpoint's other keys (its CLIP, text tower, head), which the chatbot does not
    take. Raises :class:`UserError` when ``state`` holds no branch, or an official one
    with keys the converter does not know."""
    if any('STAN_S_layers.' in k for k in state):
        prefix = next(k for k in state if 'STAN_S_layers.' in k).split('STAN_S_layers.')[0]
        try:
            converted, unmatched, _ = convert_official_backbone(state, prefix)
        except KeyError as err:
            raise UserError(f'{source}: {err.args[0]}; {HINT}') from None
        if unmatched:
            raise UserError(f'{source}: {len(unmatched)} official backbone keys not understood '
                            f'({", ".join(unmatched[:3])}); {HINT}')
        branch = {k: v for k, v in converted.items() if k.startswith('stan.')}
        taken = {k for k in state if k.startswith(prefix) and 'STAN_' in k}
        return branch, sorted(set(state) - taken)
    prefixes = sorted({m.group(1) for k in state if (m := re.match(r'(.*?)stan\.layers\.\d+\.', k))})
    if len(prefixes) != 1:
        found = f'{len(prefixes)} STAN branches ({", ".join(prefixes[:3])})' if prefixes else 'no STAN branch'
        raise UserError(f'{source} holds {found}; {HINT}')
    head = prefixes[0] + 'stan.'
    branch = {'stan.' + k[len(head):]: v for k, v in state.items() if k.startswith(head)}
    return branch, sorted(k for k in state if not k.startswith(head))


def branch_config(branch: Dict[str, Tensor]) -> dict:
    """The ``CLIPSTAN`` arguments that give a branch with exactly these weights: K
    (``num_layers``), ``preset`` (``'official'`` has ``cls_embed``), ``level_proj``,
    ``temporal_module`` and ``num_frames`` (rows of the temporal embedding)."""
    layers = sorted({int(m.group(1)) for k in branch if (m := re.match(r'stan\.layers\.(\d+)\.', k))})
    return dict(
        num_layers=len(layers),
        preset='official' if 'stan.cls_embed' in branch else 'paper',
        level_proj=any(k.startswith('stan.level_proj.') for k in branch),
        temporal_module='conv' if 'stan.layers.0.temporal.conv.weight' in branch else 'attention',
        num_frames=int(branch['stan.temporal_pos'].shape[0]))
